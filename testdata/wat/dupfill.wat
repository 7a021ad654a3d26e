;; dupfill: a reactor with no linear memory, so that its tree pays only
;; its fixed share for it. Called with tag 1, it dups its self handle
;; until dup fails, answers with how many it made (as the answer's tag),
;; and idles holding them all.
(module
  (import "isle" "self" (func $self (param) (result i32)))
  (import "isle" "dup" (func $dup (param i32 i32) (result i32)))
  (import "isle" "reply" (func $reply (param i32 i32 i32 i32 i32 i32) (result i32)))
  (func (export "isle_handle") (param $len i32) (param $tag i32) (param $aux i32) (param $n i32)
    (local $s i32) (local $made i32)
    (if (i32.ne (local.get $tag) (i32.const 1)) (then (return))) ;; its init message
    (local.set $s (call $self))
    (block $full
      (loop $l
        (br_if $full (i32.lt_s (call $dup (local.get $s) (i32.const 1)) (i32.const 0)))
        (local.set $made (i32.add (local.get $made) (i32.const 1)))
        (br $l)))
    (drop (call $reply (local.get $aux) (local.get $made) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)))))
