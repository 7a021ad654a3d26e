;; The "env" module the tamper tests link against. It is not instrumented.
(module
  (global $calls (export "calls") (mut i32) (i32.const 0))
  (global (export "isle:fuel") (mut i64) (i64.const 7))
  (global (export "g0") (mut i64) (i64.const 100))
  (func (export "yield")
    (global.set $calls (i32.add (global.get $calls) (i32.const 1))))
  (func (export "f0") (result i32) (i32.const 10))
)
