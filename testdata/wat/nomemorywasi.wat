;; nomemorywasi.wat: a command with no linear memory that calls fd_write
;; with an iovec pointer. WASI answers a bad pointer with EFAULT (21),
;; which the command exits with.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (func (export "_start")
    (call $exit (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 0)))))
