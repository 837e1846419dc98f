;; pinger: the start message (tag 1) carries a count (4 bytes) and the handle of a peer (an
;; echo). It hands the peer its own handle, then does `count` round trips of 8 bytes (tag 2)
;; and tells the starter (tag 3) when done.
(module
  (import "ward:nano" "receive" (func $receive (param i32 i32 i32 i32) (result i32)))
  (import "ward:nano" "send" (func $send (param i64 i32 i32 i32) (result i32)))
  (import "ward:nano" "send_cap" (func $send_cap (param i64 i32 i32 i32 i64) (result i32)))
  (import "ward:nano" "msg_sender" (func $msg_sender (result i64)))
  (import "ward:nano" "msg_cap" (func $msg_cap (result i64)))
  (import "ward:nano" "self" (func $self (result i64)))
  (memory (export "memory") 1)
  (func (export "main") (local $peer i64) (local $starter i64) (local $n i32)
    (drop (call $receive (i32.const 0) (i32.const 64) (i32.const -1) (i32.const 1)))
    (local.set $peer (call $msg_cap))
    (local.set $starter (call $msg_sender))
    (local.set $n (i32.load (i32.const 0)))
    ;; hand the peer our handle so that it can answer
    (drop (call $send_cap (local.get $peer) (i32.const 0) (i32.const 8) (i32.const 2) (call $self)))
    (drop (call $receive (i32.const 0) (i32.const 64) (i32.const -1) (i32.const 2)))
    (block $done
      (loop $l
        (br_if $done (i32.le_s (local.get $n) (i32.const 1)))
        (drop (call $send (local.get $peer) (i32.const 0) (i32.const 8) (i32.const 2)))
        (drop (call $receive (i32.const 0) (i32.const 64) (i32.const -1) (i32.const 2)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $l)))
    (drop (call $send (local.get $starter) (i32.const 0) (i32.const 0) (i32.const 3)))))
