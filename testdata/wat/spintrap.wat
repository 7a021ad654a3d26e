;; spintrap.wat: a command that reads a count N (a little-endian u32) from
;; its init message, loops N times, and traps. A test spawns it with a
;; range of counts to sweep its death across a window of its parent's.
(module
  (import "isle" "recv" (func $recv (param i32 i32 i32 i32 i64 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (local $n i32)
    ;; the init message (tag 0xFFFF0003) into 0..4, its info at 64
    (drop (call $recv (i32.const 0) (i32.const 4) (i32.const 0xFFFF0003) (i32.const -1) (i64.const -1) (i32.const 64)))
    (local.set $n (i32.load (i32.const 0)))
    (block $done
      (loop $spin
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $spin)))
    unreachable))
