;; call_indirect with a type index equal to the type count: the rewriter may
;; add the type [] -> [] there.
(module
  (type $t (func (param i32)))
  (table 1 funcref)
  (func (type $t) (call_indirect (type 1) (i32.const 0)))
)
