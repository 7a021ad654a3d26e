;; announce.wat: a command that writes "spinning\n" to stdout and then
;; loops forever without making a call, so that a test knows the loop has
;; begun before it interrupts it.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "spinning\n")
  (func (export "_start")
    ;; one iovec at 0: {ptr 16, len 9}; the count written goes to 8
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 9))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (loop $forever
      (br $forever))))
