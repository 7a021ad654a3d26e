;; imageinit.wat: a reactor whose _initialize leaves state in every place
;; an image must carry: mutable globals of each number type, memory written
;; over a data segment and past it, memory grown, and an inbox. Requests:
;; tag 1 replies with that state (memory[0..64), the globals, the memory
;; size in pages), tag 2 changes it, tag 3 echoes the message through the
;; inbox. imageforbidden.wat is the same reactor, but its init also writes
;; to stdout, which no image can replay.
(module
  (import "isle" "reply" (func $reply (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "isle" "inbox" (func $inbox (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $g32 (mut i32) (i32.const 1))
  (global $g64 (mut i64) (i64.const 2))
  (global $gf32 (mut f32) (f32.const 3))
  (global $gf64 (mut f64) (f64.const 4))
  (global $fixed i32 (i32.const 99))
  (data (i32.const 0) "data segment....")
  (func (export "_initialize")
    (global.set $g32 (i32.const -7))
    (global.set $g64 (i64.const 0x123456789abcdef0))
    (global.set $gf32 (f32.const -1.5))
    (global.set $gf64 (f64.const 6.25e300))
    (i64.store (i32.const 16) (i64.const 0x1111111111111111))
    (drop (memory.grow (i32.const 2)))
    (i32.store (i32.const 131072) (i32.const 0x22222222)) ;; in a grown page
    (i32.store (i32.const 24) (i32.load (i32.const 131072)))
    (drop (call $inbox (i32.const 1024) (i32.const 64))))
  ;; state writes memory[0..64) and the globals from 64 on, and replies.
  (func $state (param $h i32) (param $tag i32)
    (i32.store (i32.const 64) (global.get $g32))
    (i64.store (i32.const 68) (global.get $g64))
    (f32.store (i32.const 76) (global.get $gf32))
    (f64.store (i32.const 80) (global.get $gf64))
    (i32.store (i32.const 88) (global.get $fixed))
    (i32.store (i32.const 92) (memory.size))
    (drop (call $reply (local.get $h) (local.get $tag) (i32.const 0) (i32.const 96) (i32.const 0) (i32.const 0))))
  (func (export "isle_handle") (param $len i32) (param $tag i32) (param $aux i32) (param $n i32)
    (if (i32.eq (local.get $tag) (i32.const 1))
      (then (call $state (local.get $aux) (i32.const 1))))
    (if (i32.eq (local.get $tag) (i32.const 2))
      (then
        (global.set $g32 (i32.add (global.get $g32) (i32.const 1)))
        (i32.store8 (i32.const 0) (i32.const 0x58))
        (call $state (local.get $aux) (i32.const 2))))
    (if (i32.eq (local.get $tag) (i32.const 3))
      (then (drop (call $reply (local.get $aux) (i32.const 3) (i32.const 1024) (local.get $len) (i32.const 0) (i32.const 0)))))))
