;; ender: waits for a message (tag 1) holding an i32 code, then ends: 255 traps, anything else
;; exits with that code.
(module
  (import "ward:nano" "receive" (func $receive (param i32 i32 i32 i32) (result i32)))
  (import "ward:nano" "exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "main")
    (drop (call $receive (i32.const 0) (i32.const 64) (i32.const -1) (i32.const 1)))
    (if (i32.eq (i32.load (i32.const 0)) (i32.const 255)) (then unreachable))
    (call $exit (i32.load (i32.const 0)))))
