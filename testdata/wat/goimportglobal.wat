;; gonomem.wat's Go layout, with a linear memory, that also imports a
;; global: every defined global's index is one past Go's. The tests give
;; it a go:buildid section.
(module
  (type $pcb (func (param i32) (result i32)))
  (import "env" "g" (global i32))
  (global (mut i32) (i32.const 0))
  (global (mut i64) (i64.const 0))
  (global (mut i64) (i64.const 0))
  (global (mut i64) (i64.const 0))
  (global (mut i64) (i64.const 0))
  (global (mut i64) (i64.const 0))
  (global (mut i64) (i64.const 0))
  (global (mut i32) (i32.const 0))
  (memory (export "memory") 1)
  (table 0x1003 funcref)
  (elem (i32.const 0x1000) $main.main $wasm_pc_f_loop $_start)
  (func $main.main (type $pcb) (i32.const 0))
  (func $wasm_pc_f_loop (drop (call $main.main (i32.const 0))))
  (func $_start (call $wasm_pc_f_loop))
  (export "_start" (func $_start)))
