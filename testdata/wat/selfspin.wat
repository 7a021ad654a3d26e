;; selfspin.wat: a command that calls self, about the cheapest host call
;; there is, in a loop for ever: each call is a host transition that a
;; fuel slice must account for (BenchmarkNeighbourBesideSpinners).
(module
  (import "isle" "self" (func $self (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (loop $forever
      (drop (call $self))
      (br $forever))))
