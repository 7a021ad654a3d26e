;; trapinit.wat: a reactor whose _initialize traps at once: no image can be
;; made of it, whatever budget the build has.
(module
  (memory (export "memory") 1)
  (func (export "_initialize") unreachable)
  (func (export "isle_handle") (param $len i32) (param $tag i32) (param $aux i32) (param $n i32)))
