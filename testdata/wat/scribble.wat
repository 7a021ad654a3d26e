;; scribble.wat: a command that checks every byte of its four pages of
;; memory reads zero (exit code 1 if one does not), then writes 0xa5 over
;; all of them and ends. Run one after another, each takes up the memory
;; the one before left: none may see another's bytes.
(module
  (import "isle" "exit" (func $exit (param i32)))
  (memory 4)
  (func (export "_start")
    (local $i i32)
    (loop $check
      (if (i64.ne (i64.load (local.get $i)) (i64.const 0))
        (then (call $exit (i32.const 1))))
      (local.set $i (i32.add (local.get $i) (i32.const 8)))
      (br_if $check (i32.lt_u (local.get $i) (i32.const 262144))))
    (memory.fill (i32.const 0) (i32.const 0xa5) (i32.const 262144))))
