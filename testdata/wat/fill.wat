;; fill.wat: fills its whole 16 MiB memory over and over, for ever. With
;; each memory.fill charged one unit of fuel and run to completion, it
;; held off a 1 s timeout for 74 s and kept Go's garbage collector from
;; stopping the world. A copy mode (any argument) uses memory.copy.
(module
  (import "isle" "self" (func $self (result i32)))
  (memory (export "memory") 256)
  (func (export "_start")
    (loop $forever
      (memory.fill (i32.const 0) (i32.const 7) (i32.const 16777216))
      (memory.copy (i32.const 1) (i32.const 0) (i32.const 16777215))
      (br $forever))))
