;; abuse.wat: a hostile reactor that misuses the isle ABI, one way per
;; message tag, so that tests can check each misuse abandons it with a
;; reason that names the fault.
(module
  (import "isle" "send" (func $send (param i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "isle" "recv" (func $recv (param i32 i32 i32 i32 i64 i32) (result i32)))
  (import "isle" "self" (func $self (result i32)))
  (import "isle" "close" (func $close (param i32) (result i32)))
  (import "isle" "msg_read" (func $msg_read (param i32 i32 i32) (result i32)))
  (import "isle" "reply" (func $reply (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "isle" "kill" (func $kill (param i32) (result i32)))
  (memory (export "memory") 1)
  (func $handle (export "isle_handle") (param $len i32) (param $tag i32) (param $aux i32) (param $n i32)
    (block $done
      (block $t11 (block $t10 (block $t9 (block $t8 (block $t7
      (block $t6 (block $t5 (block $t4 (block $t3 (block $t2 (block $t1 (block $t0
        (br_table $t0 $t1 $t2 $t3 $t4 $t5 $t6 $t7 $t8 $t9 $t10 $t11 $done (local.get $tag)))
      ;; 0: a payload pointer far outside memory
      (drop (call $send (call $self) (i32.const 1) (i32.const 0x7fff0000) (i32.const 16) (i32.const 0) (i32.const 0) (i32.const 0)))
      (br $done))
      ;; 1: a length that overflows the address space
      (drop (call $send (call $self) (i32.const 1) (i32.const 0xfff0) (i32.const 0xffffff00) (i32.const 0) (i32.const 0) (i32.const 0)))
      (br $done))
      ;; 2: a handle number that was never issued
      (drop (call $send (i32.const 0x10042) (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)))
      (br $done))
      ;; 3: forging a system exit signal
      (drop (call $send (call $self) (i32.const 0xffff0001) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)))
      (br $done))
      ;; 4: unknown flag bits
      (drop (call $send (call $self) (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0x80)))
      (br $done))
      ;; 5: recv's info pointer outside memory
      (drop (call $recv (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i64.const 0) (i32.const 0xfffffff8)))
      (br $done))
      ;; 6: reading past the current message
      (drop (call $msg_read (i32.const 100000) (i32.const 0) (i32.const 4)))
      (br $done))
      ;; 7: seventeen handles in one message
      (drop (call $send (call $self) (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 17) (i32.const 0)))
      (br $done))
      ;; 8: closing the same handle twice
      (drop (call $close (call $self)))
      (drop (call $close (i32.const 0x10001)))
      (br $done))
      ;; 9: using a process handle as a reply handle
      (drop (call $reply (call $self) (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)))
      (br $done))
      ;; 10: handle 0, which is never a handle
      (drop (call $kill (i32.const 0)))
      (br $done))
      ;; 11: a stale handle: closed, then used
      (drop (call $close (call $self)))
      (drop (call $kill (i32.const 0x10001)))
      (br $done))))
