;; missing.wat: imports functions isle does not provide, to check that the
;; error lists every one of them.
(module
  (import "env" "host_magic" (func (param i32)))
  (import "wasi_snapshot_preview1" "no_such_call" (func))
  (import "env" "table" (table 1 funcref))
  (memory (export "memory") 1)
  (func (export "_start")))
