;; tablegrow.wat: grows a table 65,536 entries at a time until the grow
;; fails, then exits with the number of grows that succeeded (at most
;; 255). Without a bound, 16M entries held 120-143 MiB of the node.
(module
  (import "isle" "exit" (func $exit (param i32)))
  (table $t 0 funcref)
  (memory (export "memory") 1)
  (func (export "_start")
    (local $n i32)
    (block $done
      (loop $more
        (br_if $done (i32.eq (table.grow $t (ref.null func) (i32.const 65536)) (i32.const -1)))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br_if $done (i32.eq (local.get $n) (i32.const 255)))
        (br $more)))
    (call $exit (local.get $n))))
