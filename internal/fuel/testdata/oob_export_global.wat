;; Exports the global index the counter would take.
(module
  (global $a (mut i64) (i64.const 1))
  (export "fuel" (global 1))
)
