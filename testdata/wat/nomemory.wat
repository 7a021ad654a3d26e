;; nomemory.wat: a command with no linear memory that passes isle a
;; pointer with a length. isle must abandon it as misuse, naming the
;; missing memory, not fault on wazero's nil memory.
(module
  (import "isle" "self" (func $self (result i32)))
  (import "isle" "send" (func $send (param i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (func (export "_start")
    (drop (call $send (call $self) (i32.const 5) (i32.const 0) (i32.const 4)
      (i32.const 0) (i32.const 0) (i32.const 0)))))
