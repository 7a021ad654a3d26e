;; Uses a threads/atomics instruction in its second function: refused, with
;; the opcode and the function index named.
(module
  (memory 1 1 shared)
  (func $plain (result i32) (i32.const 0))
  (func $atomic (result i32) (i32.atomic.load (i32.const 0)))
)
