;; Tail calls: return_call indices are renumbered like call's, and a loop
;; made only of tail calls still meets the entry check.
(module
  (func $even (export "even") (param $n i32) (result i32)
    (if (result i32) (i32.eqz (local.get $n))
      (then (i32.const 1))
      (else (return_call $odd (i32.sub (local.get $n) (i32.const 1))))))
  (func $odd (param $n i32) (result i32)
    (if (result i32) (i32.eqz (local.get $n))
      (then (i32.const 0))
      (else (return_call $even (i32.sub (local.get $n) (i32.const 1))))))
  ;; forever recurses in tail position: no loop, no stack growth.
  (func $forever (export "forever")
    (return_call $forever))
)
