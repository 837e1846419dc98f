;; memhog: grows its memory a page at a time until refused, then writes past the end (traps).
(module
  (memory (export "memory") 1)
  (func (export "main")
    (block $refused
      (loop $grow
        (br_if $refused (i32.eq (memory.grow (i32.const 1)) (i32.const -1)))
        (br $grow)))
    (i32.store (i32.mul (memory.size) (i32.const 65536)) (i32.const 1))))
