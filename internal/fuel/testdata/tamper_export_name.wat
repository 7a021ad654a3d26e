;; Exports its own global under the counter's reserved name: refused, or
;; the host would refill the guest's global instead of the counter.
(module
  (global $mine (export "isle:fuel") (mut i64) (i64.const 0))
)
