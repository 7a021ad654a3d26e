;; global.set of the index the counter would take: a guest refilling itself.
(module
  (global $a (mut i64) (i64.const 1))
  (func (export "refill") (global.set 1 (i64.const 0x7fffffffffffffff)))
)
