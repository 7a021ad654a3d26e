;; deadhoard: a reactor with no linear memory that dies holding all it
;; can. Called with tag 1, it sends itself empty messages until its
;; mailbox is full, monitors itself until monitor fails, and traps, with
;; the messages still queued and every monitor on it its own.
(module
  (import "isle" "self" (func $self (result i32)))
  (import "isle" "send" (func $send (param i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "isle" "monitor" (func $monitor (param i32) (result i32)))
  (func (export "isle_handle") (param $len i32) (param $tag i32) (param $aux i32) (param $n i32)
    (local $s i32)
    (if (i32.ne (local.get $tag) (i32.const 1)) (then (return))) ;; its init message
    (local.set $s (call $self))
    ;; flags 1: ISLE_SEND_NONBLOCK, so that a full mailbox fails the send
    (block $full
      (loop $send
        (br_if $full (call $send (local.get $s) (i32.const 2) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 1)))
        (br $send)))
    (block $refused
      (loop $mon
        (br_if $refused (i32.lt_s (call $monitor (local.get $s)) (i32.const 0)))
        (br $mon)))
    unreachable))
