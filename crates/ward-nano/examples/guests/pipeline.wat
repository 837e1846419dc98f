;; pipeline: its start message (tag 1) holds up to 1024 bytes. It spawns three `stage`
;; processes, wires them (each start message hands over the next stage's handle; the last one
;; gets the pipeline's own), pushes the bytes through and sends the result to its starter
;; (tag 3). When it returns, its stages are ended with it.
(module
  (import "ward:nano" "receive" (func $receive (param i32 i32 i32 i32) (result i32)))
  (import "ward:nano" "send" (func $send (param i64 i32 i32 i32) (result i32)))
  (import "ward:nano" "send_cap" (func $send_cap (param i64 i32 i32 i32 i64) (result i32)))
  (import "ward:nano" "spawn" (func $spawn (param i32 i32) (result i64)))
  (import "ward:nano" "self" (func $self (result i64)))
  (import "ward:nano" "msg_sender" (func $msg_sender (result i64)))
  (memory (export "memory") 1)
  (data (i32.const 2000) "stage")
  (func (export "main") (local $starter i64) (local $n i32) (local $s1 i64) (local $s2 i64) (local $s3 i64)
    (local.set $n (call $receive (i32.const 0) (i32.const 1024) (i32.const -1) (i32.const 1)))
    (local.set $starter (call $msg_sender))
    (local.set $s1 (call $spawn (i32.const 2000) (i32.const 5)))
    (local.set $s2 (call $spawn (i32.const 2000) (i32.const 5)))
    (local.set $s3 (call $spawn (i32.const 2000) (i32.const 5)))
    (drop (call $send_cap (local.get $s1) (i32.const 0) (i32.const 0) (i32.const 1) (local.get $s2)))
    (drop (call $send_cap (local.get $s2) (i32.const 0) (i32.const 0) (i32.const 1) (local.get $s3)))
    (drop (call $send_cap (local.get $s3) (i32.const 0) (i32.const 0) (i32.const 1) (call $self)))
    (drop (call $send (local.get $s1) (i32.const 0) (local.get $n) (i32.const 2)))
    (local.set $n (call $receive (i32.const 0) (i32.const 1024) (i32.const 5000) (i32.const 2)))
    (drop (call $send (local.get $starter) (i32.const 0) (local.get $n) (i32.const 3)))))
