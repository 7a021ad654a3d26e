;; logflood.wat: a reactor that, for a message tagged N, writes N records
;; of 16 KiB to its "log" grant at level info, then replies.
(module
  (import "isle" "grant" (func $grant (param i32 i32) (result i32)))
  (import "isle" "log_write" (func $log (param i32 i32 i32 i32) (result i32)))
  (import "isle" "reply" (func $reply (param i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "log")
  (func (export "isle_handle") (param $len i32) (param $tag i32) (param $aux i32) (param $n i32)
    (local $h i32) (local $i i32)
    (local.set $h (call $grant (i32.const 0) (i32.const 3)))
    (block $out (loop $l
      (br_if $out (i32.ge_u (local.get $i) (local.get $tag)))
      (drop (call $log (local.get $h) (i32.const 0) (i32.const 64) (i32.const 16384)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l)))
    (if (local.get $aux) (then (drop (call $reply (local.get $aux) (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)))))))
