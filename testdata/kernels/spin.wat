;; An endless loop with no calls: the Go scheduler cannot preempt it while
;; it runs in compiled code. bench/fuelbench/spin.go holds the same module
;; assembled by hand, byte for byte, so no assembler is needed at run time.
(module
  (func $spin (export "_start")
    (local $i i32)
    (loop $again
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $again))))
