;; wasi-threads: the main thread and one spawned thread hand a token back and forth 1,000
;; times through memory.atomic.wait32/notify; each side counts its turns.
(module
  (import "env" "memory" (memory 1 1 shared))
  (import "wasi" "thread-spawn" (func $spawn (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (export "memory" (memory 0))
  (data (i32.const 64) "ping-pong: 1000 + 1000 turns\n")   ;; 29 bytes
  (data (i32.const 128) "ping-pong: wrong turn count\n")   ;; 28 bytes
  (func $print (param $p i32) (param $n i32)
    (i32.store (i32.const 8) (local.get $p))
    (i32.store (i32.const 12) (local.get $n))
    (drop (call $fd_write (i32.const 1) (i32.const 8) (i32.const 1) (i32.const 16))))
  ;; Plays `rounds` turns as `me` (the token at 0 names whose turn it is), counting at `count`.
  (func $play (param $me i32) (param $other i32) (param $count i32)
    (local $rounds i32) (local $t i32)
    (local.set $rounds (i32.const 1000))
    (loop $l
      (block $mine
        (loop $w
          (local.set $t (i32.atomic.load (i32.const 0)))
          (br_if $mine (i32.eq (local.get $t) (local.get $me)))
          (drop (memory.atomic.wait32 (i32.const 0) (local.get $t) (i64.const -1)))
          (br $w)))
      (i32.atomic.store (local.get $count)
        (i32.add (i32.atomic.load (local.get $count)) (i32.const 1)))
      (i32.atomic.store (i32.const 0) (local.get $other))
      (drop (memory.atomic.notify (i32.const 0) (i32.const 1)))
      (br_if $l (local.tee $rounds (i32.sub (local.get $rounds) (i32.const 1))))))
  (func (export "wasi_thread_start") (param $tid i32) (param $arg i32)
    (call $play (i32.const 2) (i32.const 1) (i32.const 24))
    (i32.atomic.store (i32.const 28) (i32.const 1))
    (drop (memory.atomic.notify (i32.const 28) (i32.const 1))))
  (func (export "_start")
    (i32.atomic.store (i32.const 0) (i32.const 1))
    (if (i32.le_s (call $spawn (i32.const 0)) (i32.const 0)) (then (unreachable)))
    (call $play (i32.const 1) (i32.const 2) (i32.const 20))
    (loop $w
      (if (i32.eqz (i32.atomic.load (i32.const 28)))
        (then (drop (memory.atomic.wait32 (i32.const 28) (i32.const 0) (i64.const -1))) (br $w))))
    (if (i32.and (i32.eq (i32.atomic.load (i32.const 20)) (i32.const 1000))
                 (i32.eq (i32.atomic.load (i32.const 24)) (i32.const 1000)))
      (then (call $print (i32.const 64) (i32.const 29)))
      (else (call $print (i32.const 128) (i32.const 28))))))
