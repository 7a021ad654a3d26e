;; victim.wat: a command that only ever waits for tag 99, which nobody
;; sends, so everything else piles up in its mailbox.
(module
  (import "isle" "recv" (func $recv (param i32 i32 i32 i32 i64 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (loop $forever
      (drop (call $recv (i32.const 0) (i32.const 0) (i32.const 99) (i32.const -1) (i64.const -1) (i32.const 64)))
      (br $forever))))
