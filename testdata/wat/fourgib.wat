;; fourgib.wat (hostile): a reactor that grows its memory
;; to the wasm32 maximum of 65536 pages (4 GiB, all but untouched) on its
;; first call, and replies to each call with its page count, from
;; memory.grow 0, as the reply's tag. (wazero v1.12 handles a 4 GiB memory
;; badly on its own: memory.size reads 0 and every guest load or store
;; traps; memory.grow 0 reads 65536.) Nothing in it stops the kernel from
;; putting it to sleep.
(module
  (import "isle" "reply" (func $reply (param i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $n (mut i32) (i32.const 0))
  (func (export "isle_handle") (param $len i32) (param $tag i32) (param $aux i32) (param $nh i32)
    (if (i32.eqz (global.get $n))
      (then (drop (memory.grow (i32.const 65535)))))
    (global.set $n (i32.add (global.get $n) (i32.const 1)))
    (drop (call $reply (local.get $aux) (memory.grow (i32.const 0)) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)))))
