;; hiddenmem.wat (hostile): a reactor whose linear memory
;; (64 pages, 4 MiB) is not exported. Each call increments a counter in
;; it and replies with it.
(module
  (import "isle" "reply" (func $reply (param i32 i32 i32 i32 i32 i32) (result i32)))
  (memory 64)
  (func (export "isle_handle") (param $len i32) (param $tag i32) (param $aux i32) (param $nh i32)
    (i32.store (i32.const 0) (i32.add (i32.load (i32.const 0)) (i32.const 1)))
    (drop (call $reply (local.get $aux) (local.get $tag) (i32.const 0) (i32.const 4) (i32.const 0) (i32.const 0)))))
