;; Programs for the hoisting tests (hoist_test.go): loops left and
;; re-entered in every way a function can, with branches that cross them.
(module
  ;; peek records the host's view of the counter; charge takes units off
  ;; it, as a host call's work does.
  (import "env" "peek" (func $peek))
  (import "env" "charge" (func $charge (param i64)))
  (memory 2)
  (table 2 funcref)
  (elem (i32.const 0) $leaf $sum)
  (type $t (func (param i32) (result i32)))

  (func $leaf (param $x i32) (result i32)
    (i32.add (local.get $x) (i32.const 3)))

  ;; sum loops n times: a leaf with a loop.
  (func $sum (export "sum") (param $n i32) (result i32)
    (local $i i32) (local $s i32)
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $s (i32.add (local.get $s) (local.get $i)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
    (local.get $s))

  ;; hosts calls both imports, a function and a table entry in a loop.
  (func $hosts (export "hosts") (param $n i32) (result i32)
    (local $i i32) (local $s i32)
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (call $peek)
        (call $charge (i64.extend_i32_u (i32.mul (local.get $i) (i32.const 37))))
        (local.set $s (i32.add (local.get $s) (call $leaf (local.get $i))))
        (local.set $s (i32.add (local.get $s)
          (call_indirect (type $t) (i32.const 5) (i32.and (local.get $i) (i32.const 1)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
    (call $peek)
    (local.get $s))

  ;; early returns from the middle of a loop, after n turns.
  (func $early (export "early") (param $n i32) (result i32)
    (local $i i32)
    (loop $l
      (if (i32.eq (local.get $i) (local.get $n))
        (then (return (i32.mul (local.get $i) (i32.const 2)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l))
    (i32.const -1))

  ;; branch leaves by a branch to the function's own label, from inside a
  ;; loop, with br_if and br_table.
  (func $branch (export "branch") (param $n i32) (result i32)
    (local $i i32)
    (loop $l
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if 1 (i32.mul (local.get $i) (i32.const 10)) (i32.eq (local.get $i) (local.get $n)))
      (drop (block $v (result i32)
        (br_table $v 2 (i32.const 7) (i32.gt_u (local.get $i) (i32.const 1000)))))
      (br $l))
    (i32.const 0))

  ;; fills runs a memory.fill of a length only known at run time, long
  ;; enough to go to the helper in chunks, n times.
  (func $fills (export "fills") (param $n i32) (result i32)
    (local $i i32)
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (memory.fill (i32.const 0) (local.get $i) (i32.add (i32.const 100000) (local.get $n)))
        (call $peek)
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
    (i32.load8_u (i32.const 99)))

  ;; grows the table in a loop.
  (func $grows (export "grows") (param $n i32) (result i32)
    (local $i i32)
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (drop (table.grow 0 (ref.null func) (i32.const 1)))
        (call $peek)
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
    (table.size 0))

  ;; nested loops, the inner one calling.
  (func $nested (export "nested") (param $n i32) (result i32)
    (local $i i32) (local $j i32) (local $s i32)
    (block $done
      (loop $outer
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $j (i32.const 0))
        (block $in
          (loop $inner
            (br_if $in (i32.ge_u (local.get $j) (local.get $n)))
            (local.set $s (i32.add (local.get $s) (call $sum (local.get $j))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $inner)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $outer)))
    (local.get $s))

  ;; results is a loop with a result, left by falling through its end.
  (func $results (export "results") (param $n i32) (result i32)
    (local $i i32)
    (loop $l (result i32)
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n)))
      (i32.mul (local.get $i) (i32.const 3))))

  ;; params loops with a parameter: its yield stays in place.
  (func $params (export "params") (param $n i32) (result i32)
    (i32.const 0)
    (loop $l (param i32) (result i32)
      (i32.add (i32.const 1))
      (br_if $l (i32.lt_u (local.tee $n (i32.sub (local.get $n) (i32.const 1))) (i32.const 1000000)))
      ))

  ;; deep nests ten loops, deeper than the loops hoisted in a nest, and
  ;; goes back to several of them from the innermost with a br_table.
  (func $deep (export "deep") (param $n i32) (result i32)
    (local $i i32)
    (block $out
      (loop (loop (loop (loop (loop (loop (loop (loop (loop (loop
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if 10 (i32.ge_u (local.get $i) (local.get $n)))
        (br_table 0 1 4 8 9 0 (i32.rem_u (local.get $i) (i32.const 7)))
      )))))))))))
    (local.get $i))

  ;; traps loops n times, then traps.
  (func $traps (export "traps") (param $n i32)
    (drop (call $sum (local.get $n)))
    (loop $l
      (if (i32.eqz (local.get $n)) (then unreachable))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $l)))
)
