;; fillreactor.wat: a reactor with four pages of memory that writes 0xa5
;; over all of them at each call, then answers it.
(module
  (import "isle" "reply" (func $reply (param i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 4)
  (func (export "isle_handle") (param $len i32) (param $tag i32) (param $aux i32) (param $n i32)
    (memory.fill (i32.const 0) (i32.const 0xa5) (i32.const 262144))
    (drop (call $reply (local.get $aux) (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)))))
