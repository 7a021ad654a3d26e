;; httpfetch.wat: its first message is an encoded egress request; it sends
;; it through its "web" grant with a 0-byte response buffer, so that the
;; whole response would stay its current message, and exits with what the
;; call returned, negated (ETOOBIG, -4, exits 4).
(module
  (import "isle" "recv" (func $recv (param i32 i32 i32 i32 i64 i32) (result i32)))
  (import "isle" "grant" (func $grant (param i32 i32) (result i32)))
  (import "isle" "http_request" (func $http (param i32 i32 i32 i32 i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "web")
  (func (export "_start")
    (local $n i32)
    (local.set $n (call $recv (i32.const 1024) (i32.const 4096) (i32.const 0) (i32.const 0) (i64.const -1) (i32.const 16)))
    (call $exit (i32.sub (i32.const 0)
      (call $http (call $grant (i32.const 0) (i32.const 3)) (i32.const 1024) (local.get $n) (i32.const 0) (i32.const 0) (i64.const -1) (i32.const 32))))))
