;; stack.wat: unbounded recursion on the wasm call stack itself (not a C
;; shadow stack in linear memory), to check "stack exhausted".
(module
  (memory (export "memory") 1)
  (func $deeper (param $n i32) (result i32)
    (i32.add (call $deeper (i32.add (local.get $n) (i32.const 1))) (i32.const 1)))
  (func $_start (export "_start")
    (drop (call $deeper (i32.const 0)))))
