;; biginit.wat: a reactor whose _initialize grows its memory by 4,096 pages
;; (256 MiB) and writes every 4 KiB page of it, or traps if it cannot grow:
;; an image of it holds 256 MiB.
(module
  (import "isle" "reply" (func $reply (param i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_initialize") (local $p i32) (local $end i32)
    (if (i32.lt_s (memory.grow (i32.const 4096)) (i32.const 0)) (then unreachable))
    (local.set $end (i32.mul (memory.size) (i32.const 65536)))
    (block $out (loop $l
      (br_if $out (i32.ge_u (local.get $p) (local.get $end)))
      (i32.store8 (local.get $p) (i32.const 7))
      (local.set $p (i32.add (local.get $p) (i32.const 4096)))
      (br $l))))
  (func (export "isle_handle") (param $len i32) (param $tag i32) (param $aux i32) (param $n i32)
    (drop (call $reply (local.get $aux) (local.get $tag) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)))))
