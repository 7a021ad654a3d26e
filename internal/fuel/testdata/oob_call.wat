;; call with an index equal to the function count.
(module
  (func $f (call 1))
)
