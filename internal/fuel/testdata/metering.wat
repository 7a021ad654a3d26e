;; Programs for the metering tests: no calls in the loops, so only the
;; injected checks can interrupt them.
(module
  ;; spin never returns: a loop with no calls.
  (func $spin (export "spin")
    (loop $l (br $l)))

  ;; count runs a loop n times and returns n.
  (func $count (export "count") (param $n i32) (result i32)
    (local $i i32)
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
    (local.get $i))

  ;; nested runs an outer loop n times around an inner loop of n.
  (func $nested (export "nested") (param $n i32) (result i32)
    (local $i i32) (local $j i32) (local $sum i32)
    (block $done
      (loop $outer
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $j (i32.const 0))
        (block $inner_done
          (loop $inner
            (br_if $inner_done (i32.ge_u (local.get $j) (local.get $n)))
            (local.set $sum (i32.add (local.get $sum) (i32.const 1)))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $inner)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $outer)))
    (local.get $sum))

  ;; recurse calls itself n times without any loop.
  (func $recurse (export "recurse") (param $n i32) (result i32)
    (if (result i32) (i32.eqz (local.get $n))
      (then (i32.const 0))
      (else (i32.add (i32.const 1)
        (call $recurse (i32.sub (local.get $n) (i32.const 1)))))))
)
