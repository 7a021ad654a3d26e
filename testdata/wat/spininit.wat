;; spininit.wat: a reactor whose _initialize never returns, so that an
;; image of it is never made; it answers requests if it ever gets one.
(module
  (import "isle" "reply" (func $reply (param i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_initialize") (loop $l (br $l)))
  (func (export "isle_handle") (param $len i32) (param $tag i32) (param $aux i32) (param $n i32)
    (drop (call $reply (local.get $aux) (local.get $tag) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)))))
