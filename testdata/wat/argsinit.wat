;; argsinit.wat: a reactor whose _initialize reads how many arguments it
;; has (WASI), so that its images depend on them, and answers any request
;; with that count.
(module
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args (param i32 i32) (result i32)))
  (import "isle" "reply" (func $reply (param i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_initialize")
    (drop (call $args (i32.const 0) (i32.const 4))))
  (func (export "isle_handle") (param $len i32) (param $tag i32) (param $aux i32) (param $n i32)
    (drop (call $reply (local.get $aux) (local.get $tag) (i32.const 0) (i32.const 4) (i32.const 0) (i32.const 0)))))
