;; imagehog.wat: a reactor whose _initialize grows its memory by 256 pages
;; (16 MiB) and writes 7 at the start of every 4 KiB page of it, or traps
;; if it cannot grow: an image of it holds 16 MiB. Any request is answered
;; with the byte at the start of its last page (7 where the init ran) and
;; its memory size in pages, as two i32s.
(module
  (import "isle" "reply" (func $reply (param i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_initialize") (local $p i32) (local $end i32)
    (if (i32.lt_s (memory.grow (i32.const 256)) (i32.const 0)) (then unreachable))
    (local.set $end (i32.mul (memory.size) (i32.const 65536)))
    (block $out (loop $l
      (br_if $out (i32.ge_u (local.get $p) (local.get $end)))
      (i32.store8 (local.get $p) (i32.const 7))
      (local.set $p (i32.add (local.get $p) (i32.const 4096)))
      (br $l))))
  (func (export "isle_handle") (param $len i32) (param $tag i32) (param $aux i32) (param $n i32)
    (i32.store (i32.const 0)
      (i32.load8_u (i32.sub (i32.mul (memory.size) (i32.const 65536)) (i32.const 4096))))
    (i32.store (i32.const 4) (memory.size))
    (drop (call $reply (local.get $aux) (local.get $tag) (i32.const 0) (i32.const 8) (i32.const 0) (i32.const 0)))))
