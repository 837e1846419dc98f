;; spawner: for each message with tag 1 (a template name) it spawns that template and answers
;; the sender (tag 3) with the result (i64: a pid, or a negative error). The sender must hand
;; over its handle with the message.
(module
  (import "ward:nano" "receive" (func $receive (param i32 i32 i32 i32) (result i32)))
  (import "ward:nano" "send" (func $send (param i64 i32 i32 i32) (result i32)))
  (import "ward:nano" "spawn" (func $spawn (param i32 i32) (result i64)))
  (import "ward:nano" "msg_sender" (func $msg_sender (result i64)))
  (memory (export "memory") 1)
  (func (export "main") (local $n i32)
    (loop $serve
      (local.set $n (call $receive (i32.const 0) (i32.const 128) (i32.const -1) (i32.const 1)))
      (i64.store (i32.const 1000) (call $spawn (i32.const 0) (local.get $n)))
      (drop (call $send (call $msg_sender) (i32.const 1000) (i32.const 8) (i32.const 3)))
      (br $serve))))
