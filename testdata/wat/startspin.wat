;; startspin.wat: a reactor whose start function never returns. It runs
;; inside instantiation, before any handle to the process exists, so only
;; fuel, a timeout or the spawner's own end can stop it.
(module
  (memory (export "memory") 1)
  (func $spin
    (loop $forever (br $forever)))
  (start $spin)
  (func (export "isle_handle") (param i32 i32 i32 i32)))
