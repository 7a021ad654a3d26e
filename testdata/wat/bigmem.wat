;; bigmem.wat: asks for 256 MiB of linear memory at start, to check that a
;; smaller --memory refuses it cleanly.
(module
  (memory (export "memory") 4096)
  (func (export "_start")))
