;; A global initialised from the global the counter would become.
(module
  (global $a i64 (i64.const 1))
  (global $b i64 (global.get 2))
)
