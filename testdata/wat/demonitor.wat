;; demonitor.wat: demonitor is harmless once there is nothing left to
;; cancel, as in Erlang. The process monitors the process granted as
;; "gone", which has ended, takes its DOWN, then cancels that consumed
;; monitor twice and a ref it never had. Each call must return 0 and the
;; process go on: it exits 42, or 1 to 5 naming the step that failed.
(module
  (import "isle" "grant" (func $grant (param i32 i32) (result i32)))
  (import "isle" "monitor" (func $monitor (param i32) (result i32)))
  (import "isle" "demonitor" (func $demonitor (param i32) (result i32)))
  (import "isle" "recv" (func $recv (param i32 i32 i32 i32 i64 i32) (result i32)))
  (import "isle" "exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "gone")
  (func (export "_start")
    (local $ref i32)
    (local.set $ref (call $monitor (call $grant (i32.const 0) (i32.const 4))))
    (if (i32.le_s (local.get $ref) (i32.const 0)) (then (call $exit (i32.const 1))))
    ;; The DOWN (tag 0xFFFF0002): info {len, tag, aux, nhandles} at 64.
    (if (i32.lt_s (call $recv (i32.const 128) (i32.const 256) (i32.const 0xffff0002) (i32.const -1) (i64.const -1) (i32.const 64)) (i32.const 0))
      (then (call $exit (i32.const 2))))
    (if (i32.ne (i32.load (i32.const 72)) (local.get $ref)) (then (call $exit (i32.const 2))))
    (if (call $demonitor (local.get $ref)) (then (call $exit (i32.const 3))))
    (if (call $demonitor (local.get $ref)) (then (call $exit (i32.const 4))))
    (if (call $demonitor (i32.const 77)) (then (call $exit (i32.const 5))))
    (call $exit (i32.const 42))))
