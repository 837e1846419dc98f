;; wasi-threads: the main thread spawns threads that wait forever until a spawn fails, then
;; prints how many started (the runtime's limit) and exits 0, ending the waiting threads.
;; Thread ids must be positive and distinct: it checks that each is above the last.
(module
  (import "env" "memory" (memory 1 1 shared))
  (import "wasi" "thread-spawn" (func $spawn (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (export "memory" (memory 0))
  (data (i32.const 64) "started N threads, the next spawn failed\n")   ;; 41 bytes; N at 72
  (data (i32.const 128) "bad thread id\n")                              ;; 14 bytes
  (func $print (param $p i32) (param $n i32)
    (i32.store (i32.const 8) (local.get $p))
    (i32.store (i32.const 12) (local.get $n))
    (drop (call $fd_write (i32.const 1) (i32.const 8) (i32.const 1) (i32.const 16))))
  (func (export "wasi_thread_start") (param $tid i32) (param $arg i32)
    (drop (memory.atomic.wait32 (i32.const 32) (i32.const 0) (i64.const -1))))
  (func (export "_start")
    (local $n i32) (local $tid i32) (local $last i32)
    (block $full
      (loop $s
        (local.set $tid (call $spawn (local.get $n)))
        (br_if $full (i32.lt_s (local.get $tid) (i32.const 0)))
        (if (i32.le_s (local.get $tid) (local.get $last))
          (then (call $print (i32.const 128) (i32.const 14)) (call $proc_exit (i32.const 1))))
        (local.set $last (local.get $tid))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br_if $s (i32.lt_u (local.get $n) (i32.const 9)))))
    (i32.store8 (i32.const 72) (i32.add (i32.const 48) (local.get $n)))
    (call $print (i32.const 64) (i32.const 41))
    (call $proc_exit (i32.const 0))))
