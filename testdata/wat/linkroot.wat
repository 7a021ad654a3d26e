;; linkroot: the root of a tree whose processes link every pair of them.
;; Called with n and tag (u32s), it spawns up to n processes of its
;; spawner's module "kid", sends each a copy of every kid's handle (16 a
;; message, tag 2), then calls each with tag and adds up the tags they
;; answer with (how many links each made). It answers {links, spawned, failed
;; calls} and then blocks for ever, so that its tree stays alive.
(module
  (import "isle" "grant" (func $grant (param i32 i32) (result i32)))
  (import "isle" "spawn" (func $spawn (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "isle" "send" (func $send (param i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "isle" "call" (func $call (param i32 i32 i32 i32 i32 i32 i32 i32 i64 i32) (result i32)))
  (import "isle" "recv" (func $recv (param i32 i32 i32 i32 i64 i32) (result i32)))
  (import "isle" "reply" (func $reply (param i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "spawner")
  (data (i32.const 16) "kid")
  (func (export "_start")
    (local $sp i32) (local $i i32) (local $j i32) (local $h i32) (local $n i32) (local $rh i32)
    (local $made i32) (local $spawned i32) (local $failed i32) (local $tag i32)
    ;; info at 32: len, tag, aux (the reply handle), nhandles
    (drop (call $recv (i32.const 48) (i32.const 8) (i32.const 0) (i32.const 0) (i64.const -1) (i32.const 32)))
    (local.set $n (i32.load (i32.const 48)))
    (local.set $tag (i32.load (i32.const 52)))
    (local.set $rh (i32.load (i32.const 40)))
    (local.set $sp (call $grant (i32.const 0) (i32.const 7)))
    ;; the kids' handles at 1024
    (block $out
      (loop $l
        (br_if $out (i32.ge_u (local.get $spawned) (local.get $n)))
        (local.set $h (call $spawn (local.get $sp) (i32.const 16) (i32.const 3) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)))
        (br_if $out (i32.lt_s (local.get $h) (i32.const 0)))
        (i32.store (i32.add (i32.const 1024) (i32.shl (local.get $spawned) (i32.const 2))) (local.get $h))
        (local.set $spawned (i32.add (local.get $spawned) (i32.const 1)))
        (br $l)))
    (block $sent
      (loop $k
        (br_if $sent (i32.ge_u (local.get $i) (local.get $spawned)))
        (local.set $h (i32.load (i32.add (i32.const 1024) (i32.shl (local.get $i) (i32.const 2)))))
        (local.set $j (i32.const 0))
        (block $batches
          (loop $b
            (br_if $batches (i32.ge_u (local.get $j) (local.get $spawned)))
            ;; a copy (flag 2) of up to 16 handles from j on
            (drop (call $send (local.get $h) (i32.const 2) (i32.const 0) (i32.const 0)
              (i32.add (i32.const 1024) (i32.shl (local.get $j) (i32.const 2)))
              (select (i32.const 16) (i32.sub (local.get $spawned) (local.get $j))
                (i32.ge_u (i32.sub (local.get $spawned) (local.get $j)) (i32.const 16)))
              (i32.const 2)))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $b)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $k)))
    (local.set $i (i32.const 0))
    (block $done
      (loop $c
        (br_if $done (i32.ge_u (local.get $i) (local.get $spawned)))
        (local.set $h (i32.load (i32.add (i32.const 1024) (i32.shl (local.get $i) (i32.const 2)))))
        (if (i32.lt_s (call $call (local.get $h) (local.get $tag) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i64.const -1) (i32.const 64)) (i32.const 0))
          (then (local.set $failed (i32.add (local.get $failed) (i32.const 1))))
          (else (local.set $made (i32.add (local.get $made) (i32.load (i32.const 68))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $c)))
    (i32.store (i32.const 96) (local.get $made))
    (i32.store (i32.const 100) (local.get $spawned))
    (i32.store (i32.const 104) (local.get $failed))
    (drop (call $reply (local.get $rh) (i32.const 0) (i32.const 96) (i32.const 12) (i32.const 0) (i32.const 0)))
    (drop (call $recv (i32.const 0) (i32.const 0) (i32.const 5) (i32.const -1) (i64.const -1) (i32.const 32)))))
