;; spin.wat: a command whose _start loops forever without making a call.
;; Uninstrumented, it would hold its goroutine (and any GC stop-the-world)
;; forever; isle's fuel must preempt, kill and time it out.
(module
  (memory (export "memory") 1)
  (func $spin (export "_start")
    (loop $forever
      (br $forever))))
