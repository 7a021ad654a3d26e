;; msgloop.wat: a reactor that, at its first message, copies that message
;; into its memory with msg_read for ever: its own code is a few
;; instructions a call, the host's a memcpy of the whole message.
(module
  (import "isle" "msg_read" (func $read (param i32 i32 i32) (result i32)))
  (memory (export "memory") 17)
  (func (export "isle_handle") (param $len i32) (param $tag i32) (param $aux i32) (param $n i32)
    (loop $l
      (drop (call $read (i32.const 0) (i32.const 0) (local.get $len)))
      (br $l))))
