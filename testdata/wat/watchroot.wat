;; watchroot: the root of a tree whose kids die while it monitors them.
;; Called with n (a u32), it spawns n processes of its spawner's module
;; "kid" one at a time, monitors each and calls it with tag 1, counting
;; the monitors made and the calls that failed (a kid that dies fails its
;; call). It answers {spawned, monitored, failed} and then blocks for
;; ever in a receive for tag 5 alone, so that it never takes the kids'
;; down messages: it keeps their handles and its monitors on them.
(module
  (import "isle" "grant" (func $grant (param i32 i32) (result i32)))
  (import "isle" "spawn" (func $spawn (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "isle" "monitor" (func $monitor (param i32) (result i32)))
  (import "isle" "call" (func $call (param i32 i32 i32 i32 i32 i32 i32 i32 i64 i32) (result i32)))
  (import "isle" "recv" (func $recv (param i32 i32 i32 i32 i64 i32) (result i32)))
  (import "isle" "reply" (func $reply (param i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "spawner")
  (data (i32.const 16) "kid")
  (func (export "_start")
    (local $sp i32) (local $h i32) (local $n i32) (local $rh i32)
    (local $spawned i32) (local $monitored i32) (local $failed i32)
    ;; info at 32: len, tag, aux (the reply handle), nhandles
    (drop (call $recv (i32.const 48) (i32.const 4) (i32.const 0) (i32.const 0) (i64.const -1) (i32.const 32)))
    (local.set $n (i32.load (i32.const 48)))
    (local.set $rh (i32.load (i32.const 40)))
    (local.set $sp (call $grant (i32.const 0) (i32.const 7)))
    (block $out
      (loop $l
        (br_if $out (i32.ge_u (local.get $spawned) (local.get $n)))
        (local.set $h (call $spawn (local.get $sp) (i32.const 16) (i32.const 3) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)))
        (br_if $out (i32.lt_s (local.get $h) (i32.const 0)))
        (local.set $spawned (i32.add (local.get $spawned) (i32.const 1)))
        (if (i32.gt_s (call $monitor (local.get $h)) (i32.const 0))
          (then (local.set $monitored (i32.add (local.get $monitored) (i32.const 1)))))
        (if (i32.lt_s (call $call (local.get $h) (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i64.const -1) (i32.const 64)) (i32.const 0))
          (then (local.set $failed (i32.add (local.get $failed) (i32.const 1)))))
        (br $l)))
    (i32.store (i32.const 96) (local.get $spawned))
    (i32.store (i32.const 100) (local.get $monitored))
    (i32.store (i32.const 104) (local.get $failed))
    (drop (call $reply (local.get $rh) (i32.const 0) (i32.const 96) (i32.const 12) (i32.const 0) (i32.const 0)))
    (drop (call $recv (i32.const 0) (i32.const 0) (i32.const 5) (i32.const -1) (i64.const -1) (i32.const 32)))))
