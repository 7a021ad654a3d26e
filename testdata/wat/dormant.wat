;; dormant.wat: a reactor whose state lives in mutable globals of every
;; number type and in memory it grew. Each call adds to all of it and
;; replies with what it holds, so a test sees whether anything was lost
;; while the reactor was dormant (its instance closed, and a new one made
;; over its memory). It has no data segment, no start function and no
;; table instruction: the kernel may put it to sleep.
;;
;; Reply (32 bytes): calls (i32), a sum of 0x100000001 per call (i64),
;; 0.5 per call (f32), 0.25 per call (f64), memory pages (i32), and the
;; running sum of the call numbers kept at the start of page 3 (i32).
(module
  (import "isle" "reply" (func $reply (param i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1 64)
  (global $n (mut i32) (i32.const 0))
  (global $big (mut i64) (i64.const 0))
  (global $half (mut f32) (f32.const 0))
  (global $quarter (mut f64) (f64.const 0))
  (func (export "isle_handle") (param $len i32) (param $tag i32) (param $aux i32) (param $nh i32)
    (if (i32.eqz (global.get $n))
      (then (drop (memory.grow (i32.const 2)))))
    (global.set $n (i32.add (global.get $n) (i32.const 1)))
    (global.set $big (i64.add (global.get $big) (i64.const 0x100000001)))
    (global.set $half (f32.add (global.get $half) (f32.const 0.5)))
    (global.set $quarter (f64.add (global.get $quarter) (f64.const 0.25)))
    (i32.store (i32.const 131072) (i32.add (i32.load (i32.const 131072)) (global.get $n)))
    (i32.store (i32.const 0) (global.get $n))
    (i64.store (i32.const 4) (global.get $big))
    (f32.store (i32.const 12) (global.get $half))
    (f64.store (i32.const 16) (global.get $quarter))
    (i32.store (i32.const 24) (memory.size))
    (i32.store (i32.const 28) (i32.load (i32.const 131072)))
    (drop (call $reply (local.get $aux) (local.get $tag) (i32.const 0) (i32.const 32) (i32.const 0) (i32.const 0)))))
