;; convert.wat: a float-to-int conversion of NaN, which traps.
(module
  (memory (export "memory") 1)
  (func $to_int (param $x f64) (result i32)
    (i32.trunc_f64_s (local.get $x)))
  (func $_start (export "_start")
    (drop (call $to_int (f64.div (f64.const 0) (f64.const 0))))))
