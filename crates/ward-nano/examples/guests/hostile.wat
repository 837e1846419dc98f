;; hostile: a tenant attacking the host and its neighbours. On its start message (tag 1) it
;; - sends to every pid from 1 to 10000 but itself and its starter, counting `E_PERM` answers;
;; - spawns a template it was not granted (`hostile`);
;; - grows its memory by 1 GiB;
;; - sends 64 KiB from an address outside its memory;
;; - sends a 2 GiB message;
;; reports the five results (five i32 at offset 100) to its starter (tag 3), then spins forever.
(module
  (import "ward:nano" "receive" (func $receive (param i32 i32 i32 i32) (result i32)))
  (import "ward:nano" "send" (func $send (param i64 i32 i32 i32) (result i32)))
  (import "ward:nano" "spawn" (func $spawn (param i32 i32) (result i64)))
  (import "ward:nano" "msg_sender" (func $msg_sender (result i64)))
  (import "ward:nano" "self" (func $self (result i64)))
  (memory (export "memory") 1)
  (data (i32.const 2000) "hostile")
  (func (export "main") (local $starter i64) (local $pid i64) (local $perm i32)
    (drop (call $receive (i32.const 0) (i32.const 64) (i32.const -1) (i32.const 1)))
    (local.set $starter (call $msg_sender))
    (local.set $pid (i64.const 1))
    (block $done
      (loop $each
        (br_if $done (i64.gt_u (local.get $pid) (i64.const 10000)))
        (if (i32.and (i64.ne (local.get $pid) (local.get $starter)) (i64.ne (local.get $pid) (call $self)))
          (then
            (if (i32.eq (call $send (local.get $pid) (i32.const 0) (i32.const 4) (i32.const 0)) (i32.const -4))
              (then (local.set $perm (i32.add (local.get $perm) (i32.const 1)))))))
        (local.set $pid (i64.add (local.get $pid) (i64.const 1)))
        (br $each)))
    (i32.store (i32.const 100) (local.get $perm))
    (i32.store (i32.const 104) (i32.wrap_i64 (call $spawn (i32.const 2000) (i32.const 7))))
    (i32.store (i32.const 108) (memory.grow (i32.const 16384)))
    (i32.store (i32.const 112) (call $send (local.get $starter) (i32.const 0xffff0000) (i32.const 65536) (i32.const 0)))
    (i32.store (i32.const 116) (call $send (local.get $starter) (i32.const 0) (i32.const 0x7fffffff) (i32.const 0)))
    (drop (call $send (local.get $starter) (i32.const 100) (i32.const 20) (i32.const 3)))
    (loop $spin (br $spin))))
