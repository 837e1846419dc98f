;; wasi-threads: a spawned thread traps (unreachable) while the main thread waits forever; the
;; program ends with that trap.
(module
  (import "env" "memory" (memory 1 1 shared))
  (import "wasi" "thread-spawn" (func $spawn (param i32) (result i32)))
  (export "memory" (memory 0))
  (func $boom (unreachable))
  (func (export "wasi_thread_start") (param $tid i32) (param $arg i32) (call $boom))
  (func (export "_start")
    (if (i32.le_s (call $spawn (i32.const 0)) (i32.const 0)) (then (unreachable)))
    (drop (memory.atomic.wait32 (i32.const 32) (i32.const 0) (i64.const -1)))))
