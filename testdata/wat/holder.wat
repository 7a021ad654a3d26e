;; holder.wat: a command that takes one message into a 0-byte buffer
;; (ETOOBIG: the message stays its current message, whole) and then waits
;; for ever for a tag nobody sends.
(module
  (import "isle" "recv" (func $recv (param i32 i32 i32 i32 i64 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (drop (call $recv (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i64.const -1) (i32.const 16)))
    (drop (call $recv (i32.const 0) (i32.const 0) (i32.const 99) (i32.const -1) (i64.const -1) (i32.const 16)))))
