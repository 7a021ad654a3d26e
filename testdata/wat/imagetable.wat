;; imagetable.wat: a reactor with an _initialize whose code can grow a
;; table. An image rebuilds tables from the element segments, so it cannot
;; hold a grown one: the module must get no image, and still run.
(module
  (import "isle" "reply" (func $reply (param i32 i32 i32 i32 i32 i32) (result i32)))
  (table $t 1 funcref)
  (memory (export "memory") 1)
  (global $size (mut i32) (i32.const 0))
  (func (export "_initialize")
    (global.set $size (i32.add (table.grow $t (ref.null func) (i32.const 3)) (i32.const 3))))
  (func (export "isle_handle") (param $len i32) (param $tag i32) (param $aux i32) (param $n i32)
    (i32.store (i32.const 0) (table.size $t))
    (drop (call $reply (local.get $aux) (local.get $tag) (i32.const 0) (i32.const 4) (i32.const 0) (i32.const 0)))))
