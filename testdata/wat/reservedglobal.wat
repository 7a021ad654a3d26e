;; reservedglobal.wat: exports a global under a name the kernel reserves
;; for the exports it adds (docs/ABI.md, "Fuel"): it must be refused.
(module
  (global (export "isle:global:0") (mut i32) (i32.const 0))
  (memory (export "memory") 1)
  (func (export "isle_handle") (param i32 i32 i32 i32)))
