;; A command that names its functions as Go's linker does (built with
;; wat2wasm --debug-names) without Go's layout: main.main is in no table,
;; so the cut cannot name its PC and must refuse it.
(module
  (global (mut i32) (i32.const 0))
  (global (mut i64) (i64.const 0))
  (global (mut i64) (i64.const 0))
  (global (mut i64) (i64.const 0))
  (global (mut i64) (i64.const 0))
  (global (mut i64) (i64.const 0))
  (global (mut i64) (i64.const 0))
  (global (mut i32) (i32.const 0))
  (memory (export "memory") 1)
  (func $main.main (param i32) (result i32) (i32.const 0))
  (func $wasm_pc_f_loop)
  (func $_start (drop (call $main.main (i32.const 0))) (call $wasm_pc_f_loop))
  (export "_start" (func $_start)))
