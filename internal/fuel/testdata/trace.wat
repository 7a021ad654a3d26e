;; A named call chain that traps deep inside, with a loop on the way so the
;; rewritten module yields before it traps.
(module $trace
  (func $main (export "main") (param $n i32)
    (call $outer (local.get $n)))
  (func $outer (param $n i32)
    (local $i i32)
    (loop $l
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (call $middle (local.get $i)))
  (func $middle (param $x i32)
    (call $inner (i32.add (local.get $x) (i32.const 1))))
  (func $inner (param $x i32)
    (if (i32.gt_u (local.get $x) (i32.const 1))
      (then unreachable)))
)
