;; selfloop.wat: a reactor that, for a message tagged N, calls self N
;; times, about the cheapest host call there is, and then replies. Its
;; fuel shows what N cheap calls cost.
(module
  (import "isle" "self" (func $self (result i32)))
  (import "isle" "reply" (func $reply (param i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "isle_handle") (param $len i32) (param $tag i32) (param $aux i32) (param $n i32)
    (local $i i32)
    (block $out (loop $l
      (br_if $out (i32.ge_u (local.get $i) (local.get $tag)))
      (drop (call $self))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l)))
    (if (local.get $aux) (then (drop (call $reply (local.get $aux) (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)))))))
