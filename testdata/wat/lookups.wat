;; lookups.wat: for `isle caps`. It imports isle.grant and isle.send twice
;; each (which is valid), and looks up the grants "store" and "web" by
;; constant names, one through each import of grant.
(module
  (import "isle" "grant" (func $grant (param i32 i32) (result i32)))
  (import "isle" "send" (func $send (param i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "isle" "grant" (func $grant2 (param i32 i32) (result i32)))
  (import "isle" "send" (func $send2 (param i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "storeweb")
  (func (export "_start")
    (drop (call $grant (i32.const 16) (i32.const 5)))
    (drop (call $grant2 (i32.const 21) (i32.const 3)))))
