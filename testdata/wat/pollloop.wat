;; pollloop.wat: a command whose zeroed memory reads as 52,428 relative
;; clock subscriptions of 0 ns, all ready at once; it asks poll_oneoff
;; about every one of them, for ever.
(module
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 64)
  (func (export "_start")
    (loop $l
      (drop (call $poll (i32.const 0) (i32.const 2516544) (i32.const 52428) (i32.const 4194300)))
      (br $l))))
