;; A module that declares its own global and imports with the rewriter's
;; names (in other modules, or in the name section): none of them may
;; alias the injected counter or yield.
(module
  (import "env" "yield" (func $yield))
  (import "env" "isle:fuel" (global $imported_fuel (mut i64)))
  (global $fuel (export "fuel") (mut i64) (i64.const 42))
  (global $isle:fuel (mut i64) (i64.const 43))
  ;; clobber writes to every global it can name and calls its own yield.
  (func $clobber (export "clobber")
    (global.set $imported_fuel (i64.const 0x4000000000000000))
    (global.set $fuel (i64.const 0x4000000000000000))
    (global.set $isle:fuel (i64.const 0x4000000000000000))
    (call $yield))
  (func (export "own") (result i64)
    (i64.add (global.get $fuel) (global.get $isle:fuel)))
)
