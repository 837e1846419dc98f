;; spinner: an endless loop that never calls the host.
(module
  (memory (export "memory") 1)
  (func (export "main") (loop $forever (br $forever))))
