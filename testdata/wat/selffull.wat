;; selffull.wat: a peer fills a reactor's handle table, then the reactor
;; asks for itself. One module, two roles, by tag:
;;
;;   1  (the filler, granted "victim"): sends 4,100 messages (tag 3) to
;;      the victim, each carrying copies of 16 handles (dups, with no
;;      rights, of its handle to it): 65,600 handles, more than a table
;;      holds. Replies once all are queued.
;;   3  (the victim): keeps every handle it is sent, and remembers one.
;;   2  (the victim, sent after the flood): checks that its table is full
;;      (a dup of a handle it holds must fail with ELIMIT, else it exits
;;      with code 41), then calls self and sends itself tag 4 through that
;;      handle (a zero handle or a failed send traps).
;;   4  (the victim, from itself): exits with code 42.
(module
  (import "isle" "send" (func $send (param i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "isle" "self" (func $self (result i32)))
  (import "isle" "grant" (func $grant (param i32 i32) (result i32)))
  (import "isle" "dup" (func $dup (param i32 i32) (result i32)))
  (import "isle" "exit" (func $exit (param i32)))
  (import "isle" "msg_handles" (func $msg_handles (param i32 i32) (result i32)))
  (import "isle" "reply" (func $reply (param i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "victim")
  (global $held (mut i32) (i32.const 0))
  (func (export "isle_handle") (param $len i32) (param $tag i32) (param $aux i32) (param $n i32)
    (local $h i32) (local $i i32)
    (if (i32.eq (local.get $tag) (i32.const 1))
      (then
        (local.set $h (call $grant (i32.const 0) (i32.const 6)))
        ;; 16 distinct handles at 64: a message may not list one twice
        (loop $fill
          (i32.store (i32.add (i32.const 64) (i32.shl (local.get $i) (i32.const 2))) (call $dup (local.get $h) (i32.const 0)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $fill (i32.lt_u (local.get $i) (i32.const 16))))
        (local.set $i (i32.const 0))
        ;; flags 2: ISLE_SEND_COPY, so the filler keeps its handles
        (loop $flood
          (if (call $send (local.get $h) (i32.const 3) (i32.const 0) (i32.const 0) (i32.const 64) (i32.const 16) (i32.const 2))
            (then unreachable))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $flood (i32.lt_u (local.get $i) (i32.const 4100))))
        (drop (call $reply (local.get $aux) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)))))
    (if (i32.and (i32.eq (local.get $tag) (i32.const 3)) (i32.gt_u (local.get $n) (i32.const 0)))
      (then
        (drop (call $msg_handles (i32.const 128) (i32.const 1)))
        (global.set $held (i32.load (i32.const 128)))))
    (if (i32.eq (local.get $tag) (i32.const 2))
      (then
        ;; -7: ISLE_ELIMIT
        (if (i32.ne (call $dup (global.get $held) (i32.const 0)) (i32.const -7))
          (then (call $exit (i32.const 41))))
        (local.set $h (call $self))
        (if (i32.eqz (local.get $h)) (then unreachable))
        ;; flags 1: ISLE_SEND_NONBLOCK
        (if (call $send (local.get $h) (i32.const 4) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 1))
          (then unreachable))))
    (if (i32.eq (local.get $tag) (i32.const 4))
      (then (call $exit (i32.const 42))))))
