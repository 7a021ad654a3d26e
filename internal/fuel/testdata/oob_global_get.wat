;; global.get with an index equal to the module's global count (2): after
;; the rewrite that index is the counter.
(module
  (global $a i64 (i64.const 1))
  (global $b (mut i64) (i64.const 2))
  (func (export "peek") (result i64) (global.get 2))
)
