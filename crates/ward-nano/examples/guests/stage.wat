;; stage: one step of a pipeline. Its start message (tag 1) carries the handle of the next
;; stage. Then, for each message with tag 2: add 1 to every byte and pass it on (tag 2).
(module
  (import "ward:nano" "receive" (func $receive (param i32 i32 i32 i32) (result i32)))
  (import "ward:nano" "send" (func $send (param i64 i32 i32 i32) (result i32)))
  (import "ward:nano" "msg_cap" (func $msg_cap (result i64)))
  (memory (export "memory") 1)
  (func (export "main") (local $next i64) (local $n i32) (local $i i32)
    (drop (call $receive (i32.const 0) (i32.const 64) (i32.const -1) (i32.const 1)))
    (local.set $next (call $msg_cap))
    (loop $serve
      (local.set $n (call $receive (i32.const 0) (i32.const 4096) (i32.const -1) (i32.const 2)))
      (local.set $i (i32.const 0))
      (block $done
        (loop $bytes
          (br_if $done (i32.ge_s (local.get $i) (local.get $n)))
          (i32.store8 (local.get $i) (i32.add (i32.load8_u (local.get $i)) (i32.const 1)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $bytes)))
      (drop (call $send (local.get $next) (i32.const 0) (local.get $n) (i32.const 2)))
      (br $serve))))
