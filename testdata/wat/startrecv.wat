;; startrecv.wat: a reactor whose start function blocks in recv forever.
;; It runs inside instantiation, before any handle to the process exists,
;; so only a timeout, a cancelled context or its spawner's end can stop it.
(module
  (import "isle" "recv" (func $recv (param i32 i32 i32 i32 i64 i32) (result i32)))
  (memory (export "memory") 1)
  (func $wait
    (loop $forever ;; the init message comes first; then nothing ever does
      (drop (call $recv (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)
                        (i64.const -1) (i32.const 64)))
      (br $forever)))
  (start $wait)
  (func (export "isle_handle") (param i32 i32 i32 i32)))
