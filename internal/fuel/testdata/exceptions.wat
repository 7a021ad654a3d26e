;; Uses exception handling: refused.
(module
  (tag $e)
  (func $thrower (throw $e))
)
