;; crasher: traps at once.
(module
  (memory (export "memory") 1)
  (func (export "main") unreachable))
