;; supervisor: on its start message (tag 1) it supervises a `crasher` child (at most 3 restarts
;; in 10 s) and forwards every notice about it to its starter, with the notice's tag negated
;; (4: RESTARTED, 2: DOWN), until the child is down for good.
(module
  (import "ward:nano" "receive" (func $receive (param i32 i32 i32 i32) (result i32)))
  (import "ward:nano" "send" (func $send (param i64 i32 i32 i32) (result i32)))
  (import "ward:nano" "supervise" (func $supervise (param i32 i32 i32 i32) (result i64)))
  (import "ward:nano" "msg_sender" (func $msg_sender (result i64)))
  (import "ward:nano" "msg_tag" (func $msg_tag (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 2000) "crasher")
  (func (export "main") (local $starter i64) (local $n i32)
    (drop (call $receive (i32.const 0) (i32.const 64) (i32.const -1) (i32.const 1)))
    (local.set $starter (call $msg_sender))
    (drop (call $supervise (i32.const 2000) (i32.const 7) (i32.const 3) (i32.const 10000)))
    (loop $watch
      (local.set $n (call $receive (i32.const 0) (i32.const 1024) (i32.const -1) (i32.const -1)))
      (drop (call $send (local.get $starter) (i32.const 0) (local.get $n)
        (i32.sub (i32.const 0) (call $msg_tag))))
      (br_if $watch (i32.ne (call $msg_tag) (i32.const -2))))))
