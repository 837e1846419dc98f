;; wasi-threads: the main thread spawns 4 threads; each adds 1 to a shared counter 10,000 times
;; with i32.atomic.rmw.add, then bumps a done-count and notifies it; the main thread waits on
;; the done-count (memory.atomic.wait32) until all 4 finished, then checks the total.
(module
  (import "env" "memory" (memory 1 1 shared))
  (import "wasi" "thread-spawn" (func $spawn (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (export "memory" (memory 0))
  (data (i32.const 64) "spawned 4 threads\n")          ;; 18 bytes
  (data (i32.const 96) "counter = 40000\n")            ;; 16 bytes
  (data (i32.const 128) "counter is wrong\n")          ;; 17 bytes
  (data (i32.const 160) "spawn failed\n")              ;; 13 bytes
  (func $print (param $p i32) (param $n i32)
    (i32.store (i32.const 8) (local.get $p))
    (i32.store (i32.const 12) (local.get $n))
    (drop (call $fd_write (i32.const 1) (i32.const 8) (i32.const 1) (i32.const 16))))
  (func (export "wasi_thread_start") (param $tid i32) (param $arg i32)
    (local $i i32)
    (local.set $i (i32.const 10000))
    (loop $l
      (drop (i32.atomic.rmw.add (i32.const 0) (i32.const 1)))
      (br_if $l (local.tee $i (i32.sub (local.get $i) (i32.const 1)))))
    (drop (i32.atomic.rmw.add (i32.const 4) (i32.const 1)))
    (drop (memory.atomic.notify (i32.const 4) (i32.const 1))))
  (func (export "_start")
    (local $k i32) (local $done i32)
    (loop $s
      (if (i32.le_s (call $spawn (local.get $k)) (i32.const 0))
        (then (call $print (i32.const 160) (i32.const 13)) (unreachable)))
      (br_if $s (i32.lt_u (local.tee $k (i32.add (local.get $k) (i32.const 1))) (i32.const 4))))
    (call $print (i32.const 64) (i32.const 18))
    (loop $w
      (local.set $done (i32.atomic.load (i32.const 4)))
      (if (i32.lt_u (local.get $done) (i32.const 4))
        (then
          (drop (memory.atomic.wait32 (i32.const 4) (local.get $done) (i64.const -1)))
          (br $w))))
    (if (i32.eq (i32.atomic.load (i32.const 0)) (i32.const 40000))
      (then (call $print (i32.const 96) (i32.const 16)))
      (else (call $print (i32.const 128) (i32.const 17))))))
