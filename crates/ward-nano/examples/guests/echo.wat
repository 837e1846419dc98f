;; echo: waits for a message and sends the same bytes back to its sender with tag 2, forever.
;; The sender must have handed over its own handle (send_cap(..., self())) at least once.
(module
  (import "ward:nano" "receive" (func $receive (param i32 i32 i32 i32) (result i32)))
  (import "ward:nano" "send" (func $send (param i64 i32 i32 i32) (result i32)))
  (import "ward:nano" "msg_sender" (func $msg_sender (result i64)))
  (memory (export "memory") 1)
  (func (export "main") (local $n i32)
    (loop $serve
      (local.set $n (call $receive (i32.const 0) (i32.const 1024) (i32.const -1) (i32.const -1)))
      (if (i32.ge_s (local.get $n) (i32.const 0))
        (then (drop (call $send (call $msg_sender) (i32.const 0) (local.get $n) (i32.const 2)))))
      (br $serve))))
