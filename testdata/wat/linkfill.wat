;; linkfill: a reactor with no linear memory, so that its tree pays only
;; its fixed share for it. It counts the handles it is sent (tag 2): in
;; a table that never frees one, they take the slots after its spawner
;; grant's (slot 1), in the first generation (0x10000 | slot), so it
;; needs no memory to name them. Called (tag 1), it links to each until link fails, answers with
;; how many links it made (as the answer's tag), and idles holding them.
(module
  (import "isle" "link" (func $link (param i32) (result i32)))
  (import "isle" "reply" (func $reply (param i32 i32 i32 i32 i32 i32) (result i32)))
  (global $got (mut i32) (i32.const 0))
  (func (export "isle_handle") (param $len i32) (param $tag i32) (param $aux i32) (param $n i32)
    (local $k i32) (local $made i32)
    (local.set $k (i32.const 1)) ;; its spawner grant
    (if (i32.eq (local.get $tag) (i32.const 2))
      (then (global.set $got (i32.add (global.get $got) (local.get $n))) (return)))
    (if (i32.ne (local.get $tag) (i32.const 1)) (then (return))) ;; its init message
    (block $full
      (loop $l
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br_if $full (i32.gt_u (local.get $k) (i32.add (global.get $got) (i32.const 1))))
        (br_if $full (i32.lt_s (call $link (i32.or (i32.const 0x10000) (local.get $k))) (i32.const 0)))
        (local.set $made (i32.add (local.get $made) (i32.const 1)))
        (br $l)))
    (drop (call $reply (local.get $aux) (local.get $made) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)))))
