;; The component both sides of the component-call benchmark run (Ward:
;; crates/ward-component/examples/component_call.rs; Wasmtime 48: benches/component-call-wasmtime).
;;
;; `process` takes a string and a list of records and returns the string's length plus the
;; list's length: the guest reads nothing but the two lengths, so a call measures the canonical
;; ABI (lowering the arguments into guest memory through `realloc`), not guest work. The guest
;; frees its arguments by resetting its bump allocator before it returns. `noop` is the cost of
;; a component call that carries nothing.
(component
  (type $item (record (field "id" u32) (field "score" f64) (field "flag" bool)))
  (export $item' "item" (type $item))
  (core module $m
    (memory (export "mem") 1)
    (global $next (mut i32) (i32.const 1024))
    (func (export "realloc") (param $old i32) (param $old_size i32) (param $align i32) (param $size i32) (result i32)
      (local $p i32) (local $end i32)
      (local.set $p (i32.and (i32.add (global.get $next) (i32.sub (local.get $align) (i32.const 1)))
                             (i32.sub (i32.const 0) (local.get $align))))
      (local.set $end (i32.add (local.get $p) (local.get $size)))
      (if (i32.gt_u (local.get $end) (i32.shl (memory.size) (i32.const 16)))
        (then (if (i32.eq (memory.grow (i32.sub (i32.shr_u (i32.add (local.get $end) (i32.const 65535)) (i32.const 16))
                                                  (memory.size)))
                          (i32.const -1))
                (then unreachable))))
      (global.set $next (local.get $end))
      (local.get $p))
    (func (export "process") (param $s i32) (param $s_len i32) (param $l i32) (param $l_len i32) (result i32)
      (global.set $next (i32.const 1024))
      (i32.add (local.get $s_len) (local.get $l_len)))
    (func (export "noop")))
  (core instance $i (instantiate $m))
  (func (export "process") (param "name" string) (param "items" (list $item')) (result u32)
    (canon lift (core func $i "process") (memory (core memory $i "mem")) (realloc (core func $i "realloc"))))
  (func (export "noop") (canon lift (core func $i "noop"))))
