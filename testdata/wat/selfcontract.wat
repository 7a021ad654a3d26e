;; selfcontract.wat: checks ABI.md's promise for self from inside. On
;; tag 1: two calls give the same handle; after close, the next call gives
;; a new one that works; after that one is sent away (to itself, tag 6),
;; the next call gives another. On tag 6, the handle it received is not
;; its self handle: self still gives the last. Each broken promise exits
;; with its own code (1 to 5); all kept, it exits with 42.
(module
  (import "isle" "send" (func $send (param i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "isle" "self" (func $self (result i32)))
  (import "isle" "close" (func $close (param i32) (result i32)))
  (import "isle" "exit" (func $exit (param i32)))
  (import "isle" "msg_handles" (func $msg_handles (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $last (mut i32) (i32.const 0))
  (func $check (param $ok i32) (param $code i32)
    (if (i32.eqz (local.get $ok)) (then (call $exit (local.get $code)))))
  (func (export "isle_handle") (param $len i32) (param $tag i32) (param $aux i32) (param $n i32)
    (local $a i32) (local $c i32) (local $d i32)
    (if (i32.eq (local.get $tag) (i32.const 1))
      (then
        (local.set $a (call $self))
        (call $check (i32.and (i32.ne (local.get $a) (i32.const 0)) (i32.eq (local.get $a) (call $self))) (i32.const 1))
        (drop (call $close (local.get $a)))
        (local.set $c (call $self))
        (call $check (i32.and (i32.ne (local.get $c) (i32.const 0)) (i32.ne (local.get $c) (local.get $a))) (i32.const 2))
        ;; flags 1: ISLE_SEND_NONBLOCK
        (call $check (i32.eqz (call $send (local.get $c) (i32.const 5) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 1))) (i32.const 3))
        ;; send c away, moved, in a message to itself
        (i32.store (i32.const 0) (local.get $c))
        (call $check (i32.eqz (call $send (local.get $c) (i32.const 6) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 1))) (i32.const 3))
        (local.set $d (call $self))
        (call $check (i32.and (i32.ne (local.get $d) (i32.const 0)) (i32.ne (local.get $d) (local.get $c))) (i32.const 4))
        (global.set $last (local.get $d))))
    (if (i32.eq (local.get $tag) (i32.const 6))
      (then
        (call $check (i32.eq (call $msg_handles (i32.const 16) (i32.const 1)) (i32.const 1)) (i32.const 5))
        (call $check (i32.and (i32.ne (i32.load (i32.const 16)) (global.get $last)) (i32.eq (call $self) (global.get $last))) (i32.const 5))
        (call $exit (i32.const 42))))))
