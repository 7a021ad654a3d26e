;; dataful.wat: a reactor with data segments, which it writes over: each
;; call increments a count kept in the first segment's place and replies
;; with it and the second segment's bytes. A woken instance must not copy
;; the segments in again over what the reactor wrote.
(module
  (import "isle" "reply" (func $reply (param i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "\00\00\00\00")
  (data (i32.const 68) "isle")
  (func (export "isle_handle") (param $len i32) (param $tag i32) (param $aux i32) (param $nh i32)
    (i32.store (i32.const 64) (i32.add (i32.load (i32.const 64)) (i32.const 1)))
    (drop (call $reply (local.get $aux) (local.get $tag) (i32.const 64) (i32.const 8) (i32.const 0) (i32.const 0)))))
