;; A command laid out as Go's linker lays one out (its globals, main.main
;; and wasm_pc_f_loop named with wat2wasm --debug-names, every function in
;; table 0 from 0x1000) but with no linear memory, which a module needs
;; only if it touches memory. It runs main.main through the loop and exits
;; 0. The tests give it a go:buildid section.
(module
  (type $pcb (func (param i32) (result i32)))
  (global (mut i32) (i32.const 0))
  (global (mut i64) (i64.const 0))
  (global (mut i64) (i64.const 0))
  (global (mut i64) (i64.const 0))
  (global (mut i64) (i64.const 0))
  (global (mut i64) (i64.const 0))
  (global (mut i64) (i64.const 0))
  (global (mut i32) (i32.const 0))
  (table 0x1003 funcref)
  (elem (i32.const 0x1000) $main.main $wasm_pc_f_loop $_start)
  (func $main.main (type $pcb) (i32.const 0))
  (func $wasm_pc_f_loop (drop (call $main.main (i32.const 0))))
  (func $_start (call $wasm_pc_f_loop))
  (export "_start" (func $_start)))
