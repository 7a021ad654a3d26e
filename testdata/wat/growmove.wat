;; growmove.wat: starts at one page, checks it reads zero, marks it, and
;; grows twice (out of a one-page region, then past 64 MiB): after each
;; growth its marks read back and the new memory reads zero. It exits
;; with a code naming the check that failed, or 0.
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory 1)
  ;; $want is what the word at $a should read: $a xor $stamp, or 0.
  (func $want (param $a i32) (param $stamp i32) (result i32)
    (select (i32.xor (local.get $a) (local.get $stamp)) (i32.const 0) (local.get $stamp)))
  ;; $check exits with $code unless the first and last word of every
  ;; $step bytes in [$from, $to) read what $want says.
  (func $check (param $from i32) (param $to i32) (param $step i32) (param $stamp i32) (param $code i32)
    (local $a i32) (local $b i32)
    (local.set $a (local.get $from))
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $a) (local.get $to)))
      (local.set $b (i32.sub (i32.add (local.get $a) (local.get $step)) (i32.const 4)))
      (if (i32.ne (i32.load (local.get $a)) (call $want (local.get $a) (local.get $stamp)))
        (then (call $exit (local.get $code))))
      (if (i32.ne (i32.load (local.get $b)) (call $want (local.get $b) (local.get $stamp)))
        (then (call $exit (local.get $code))))
      (local.set $a (i32.add (local.get $a) (local.get $step)))
      (br $l))))
  ;; $mark writes what $check will want into [$from, $to).
  (func $mark (param $from i32) (param $to i32) (param $step i32) (param $stamp i32)
    (local $a i32) (local $b i32)
    (local.set $a (local.get $from))
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $a) (local.get $to)))
      (local.set $b (i32.sub (i32.add (local.get $a) (local.get $step)) (i32.const 4)))
      (i32.store (local.get $a) (call $want (local.get $a) (local.get $stamp)))
      (i32.store (local.get $b) (call $want (local.get $b) (local.get $stamp)))
      (local.set $a (i32.add (local.get $a) (local.get $step)))
      (br $l))))
  (func (export "_start")
    (call $check (i32.const 0) (i32.const 0x10000) (i32.const 4096) (i32.const 0) (i32.const 10))
    (call $mark (i32.const 0) (i32.const 0x10000) (i32.const 4096) (i32.const 0x5a5a0000))
    (if (i32.eq (memory.grow (i32.const 1)) (i32.const -1)) (then (call $exit (i32.const 11))))
    (call $check (i32.const 0) (i32.const 0x10000) (i32.const 4096) (i32.const 0x5a5a0000) (i32.const 12))
    (call $check (i32.const 0x10000) (i32.const 0x20000) (i32.const 4096) (i32.const 0) (i32.const 13))
    (call $mark (i32.const 0x10000) (i32.const 0x20000) (i32.const 4096) (i32.const 0x5a5a0000))
    ;; 1032 pages: past 64 MiB, into a region of the whole limit
    (if (i32.eq (memory.grow (i32.const 1030)) (i32.const -1)) (then (call $exit (i32.const 14))))
    (call $check (i32.const 0) (i32.const 0x20000) (i32.const 4096) (i32.const 0x5a5a0000) (i32.const 15))
    (call $check (i32.const 0x20000) (i32.const 0x4080000) (i32.const 0x10000) (i32.const 0) (i32.const 16))
    (call $mark (i32.const 0x20000) (i32.const 0x4080000) (i32.const 0x10000) (i32.const 0x5a5a0000))
    (call $check (i32.const 0) (i32.const 0x4080000) (i32.const 0x10000) (i32.const 0x5a5a0000) (i32.const 17))))
