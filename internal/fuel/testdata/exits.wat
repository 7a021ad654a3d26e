;; Every way out of a function that calls: the frame it charged to the
;; stack budget must be given back on each.
(module
  (type $ii (func (param i32) (result i32)))
  (table 2 funcref)
  (elem (i32.const 0) $leaf $tail_indirect)
  (func $leaf (type $ii) (i32.add (local.get 0) (i32.const 1)))

  ;; return from inside nested blocks, or fall through.
  (func (export "nested_return") (param i32) (result i32)
    (block
      (block
        (br_if 1 (i32.eqz (local.get 0)))
        (if (i32.eq (local.get 0) (i32.const 1))
          (then (return (call $leaf (i32.const 10)))))))
    (call $leaf (local.get 0)))

  ;; branches to the function's own label: br, br_if and br_table.
  (func (export "br_function") (param i32) (result i32)
    (drop (call $leaf (i32.const 0)))
    (i32.const 7)
    (br_if 0 (i32.eq (local.get 0) (i32.const 0)))
    (drop)
    (block (result i32)
      (i32.const 8)
      (br_table 0 1 0 (local.get 0)))
    (i32.const 100)
    (i32.add)
    (br 0 (i32.const 9)))

  ;; a multi-value result, left through a branch to the function's label.
  (func (export "multi") (param i32) (result i32 i64)
    (drop (call $leaf (i32.const 0)))
    (if (local.get 0)
      (then (br 1 (i32.const 1) (i64.const 2))))
    (i32.const 3) (i64.const 4))

  ;; tail calls, direct and indirect, in a function that also calls.
  (func $tail (export "tail") (param i32) (result i32)
    (if (i32.eqz (local.get 0)) (then (return (call $leaf (i32.const 41)))))
    (drop (call $leaf (i32.const 0)))
    (return_call $tail (i32.sub (local.get 0) (i32.const 1))))
  (func $tail_indirect (export "tail_indirect") (type $ii)
    (if (i32.eqz (local.get 0)) (then (return (i32.const 42))))
    (drop (call_indirect (type $ii) (i32.const 0) (i32.const 0)))
    (return_call_indirect (type $ii) (i32.sub (local.get 0) (i32.const 1)) (i32.const 1)))

  ;; unreachable after a call: the process dies, nothing to give back.
  (func (export "trap") (param i32) (result i32)
    (drop (call $leaf (local.get 0)))
    (if (local.get 0) (then unreachable))
    (i32.const 5))
)
