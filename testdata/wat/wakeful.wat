;; wakeful.wat: a reactor the kernel must never put to sleep: each call
;; grows its table, which a new instance would not have. It replies with
;; its table's size and a count each call increments, kept where its data
;; segment put zeros.
(module
  (import "isle" "reply" (func $reply (param i32 i32 i32 i32 i32 i32) (result i32)))
  (table $t 0 funcref)
  (memory (export "memory") 1)
  (data (i32.const 64) "\00\00\00\00")
  (func (export "isle_handle") (param $len i32) (param $tag i32) (param $aux i32) (param $nh i32)
    (drop (table.grow $t (ref.null func) (i32.const 1)))
    (i32.store (i32.const 64) (i32.add (i32.load (i32.const 64)) (i32.const 1)))
    (i32.store (i32.const 0) (table.size $t))
    (i32.store (i32.const 4) (i32.load (i32.const 64)))
    (drop (call $reply (local.get $aux) (local.get $tag) (i32.const 0) (i32.const 8) (i32.const 0) (i32.const 0)))))
