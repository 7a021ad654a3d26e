;; oddglobals.wat (hostile): globals whose bits are easy to
;; lose: a negative i32, i64 minimum, f32 and f64 signalling NaNs with
;; payloads, negative zero; an exported mutable global; and a memory with
;; a declared maximum that it grows to on its first call. Each call sets
;; the globals from the previous values (so a restore to the initial
;; values shows) and replies with all of them, memory.size, and a word
;; written in the last page.
(module
  (import "isle" "reply" (func $reply (param i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1 3)
  (global $a (mut i32) (i32.const 0))
  (global $b (mut i64) (i64.const 0))
  (global $c (mut f32) (f32.const 0))
  (global $d (mut f64) (f64.const 0))
  (global $e (export "exported") (mut f64) (f64.const 1))
  (global $k i32 (i32.const 42))
  (func (export "isle_handle") (param $len i32) (param $tag i32) (param $aux i32) (param $nh i32)
    (if (i32.eqz (global.get $a))
      (then
        (drop (memory.grow (i32.const 2)))
        (global.set $a (i32.const -7))
        (global.set $b (i64.const 0x8000000000000000))
        (global.set $c (f32.reinterpret_i32 (i32.const 0x7fa00001)))
        (global.set $d (f64.reinterpret_i64 (i64.const 0x7ff4000000000001)))
        (global.set $e (f64.const -0)))
      (else
        (global.set $a (i32.sub (global.get $a) (i32.const 1)))))
    (i32.store (i32.const 196604) (i32.add (i32.load (i32.const 196604)) (i32.const 1)))
    (i32.store (i32.const 0) (global.get $a))
    (i64.store (i32.const 4) (global.get $b))
    (i32.store (i32.const 12) (i32.reinterpret_f32 (global.get $c)))
    (i64.store (i32.const 16) (i64.reinterpret_f64 (global.get $d)))
    (i64.store (i32.const 24) (i64.reinterpret_f64 (global.get $e)))
    (i32.store (i32.const 32) (global.get $k))
    (i32.store (i32.const 36) (memory.size))
    (i32.store (i32.const 40) (i32.load (i32.const 196604)))
    (drop (call $reply (local.get $aux) (local.get $tag) (i32.const 0) (i32.const 44) (i32.const 0) (i32.const 0)))))
