;; wasi-threads: a spawned thread calls proc_exit(7) while the main thread waits forever;
;; the whole program ends with status 7.
(module
  (import "env" "memory" (memory 1 1 shared))
  (import "wasi" "thread-spawn" (func $spawn (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (export "memory" (memory 0))
  (data (i32.const 64) "thread exiting with 7\n")   ;; 22 bytes
  (func (export "wasi_thread_start") (param $tid i32) (param $arg i32)
    (i32.store (i32.const 8) (i32.const 64))
    (i32.store (i32.const 12) (i32.const 22))
    (drop (call $fd_write (i32.const 1) (i32.const 8) (i32.const 1) (i32.const 16)))
    (call $proc_exit (i32.const 7)))
  (func (export "_start")
    (if (i32.le_s (call $spawn (i32.const 0)) (i32.const 0)) (then (unreachable)))
    (drop (memory.atomic.wait32 (i32.const 32) (i32.const 0) (i64.const -1)))
    (unreachable)))
