;; Imports a global from the reserved module: refused.
(module
  (import "isle:fuel" "counter" (global (mut i64)))
)
