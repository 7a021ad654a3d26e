// Package capfs is a directory capability for WASI guests: a file system
// (wazero's experimental/sys.FS interface, which isle's WASI layer in
// internal/wasip1 calls) that a guest cannot climb out of.
//
// # Why not wazero's WithDirMount
//
// wazero's DirFS joins the guest's path onto the host directory and calls
// os.* on the result. wazero cleans ".." and absolute paths before they
// reach the FS, but the kernel then follows every symlink in the joined
// path, wherever it points. Its documentation says so: it is not a sandbox.
// Under WithDirMount the end-to-end test's program (testdata/escape.c)
// reads /etc/passwd through a symlink the host left in the tree, makes its
// own symlink "sec" -> "../secret" and reads the secret through it, lists
// and creates files in the parent directory, and renames a file from
// outside into the tree. Only absolute symlink targets are refused.
//
// # How names are resolved
//
// Every path operation resolves its name beneath a descriptor for the
// directory, a level at a time or in one kernel call that stays beneath
// it, and acts on the last name with its *at system call; no host path is
// ever built and handed to the kernel, so no symlink swapped in by a
// racing process (or guest) can redirect it. Rename and Link resolve both
// names beneath the root, so nothing can be moved or hard-linked across
// the boundary in either direction. Open files work on their descriptor
// only and are never re-opened by name.
//
// On Linux (walk_linux.go, ops_linux.go) a clean path with no ".." is
// resolved by one openat2 with RESOLVE_BENEATH and RESOLVE_NO_SYMLINKS,
// which refuses any step out of the root and any symlink on the way. A
// path that meets a symlink or holds ".." is walked here: each directory
// opened with openat(O_PATH|O_NOFOLLOW) from the one before, each symlink
// read and its target walked in its place (40 at most: ELOOP), a ".."
// reopened from the root by openat2 on the names walked so far, so that a
// directory moved out of the tree meanwhile cannot lead the walk out. An
// absolute target, or a ".." above the root, is EPERM. The last name is
// acted on without following a symlink there (O_NOFOLLOW,
// AT_SYMLINK_NOFOLLOW, fchmodat2); a call that must follow one reads it
// and walks on. The walk charges its Charger (see FS.ChargedTo) a level
// for each component of a symlink's target, before walking them, and a
// level for each name a ".." walks again: the levels the guest wrote are
// its caller's to charge.
//
// The walk asks only search permission of each directory, as the
// kernel's own does; os.Root opens each one for reading. So a process not
// running as root can reach a file through a directory it may search but
// not read (mode 0311), which os.Root refuses. Either way the answer is
// one the host's own permissions allow, inside the root.
//
// Elsewhere Go's os.Root resolves every name (ops_root.go), a level at a
// time with openat(O_NOFOLLOW), refusing any link or ".." that would leave
// the root; the symlinks it follows are not charged.
//
// # Defence in depth
//
//   - Guest symlinks whose target is absolute or has a ".." component are
//     refused (EPERM), so that no link the guest makes can lead a host
//     program that follows it out of the tree, whatever the guest does
//     later (see mayLeave). The walk beneath the root is what contains
//     the guest itself.
//   - Device nodes and FIFOs are refused (EACCES). Resolving beneath the root
//     does not stop them, and opening a FIFO blocks in the kernel where no timeout
//     reaches.
//   - Modes are masked to the permission bits: no setuid/setgid/sticky.
//
// # Rights
//
// A capability's rights are an api.Rights mask of the directory rights, so
// that it can later be attenuated:
//
//   - api.RightRead allows reading file contents, listing directories and
//     reading symlinks. Metadata (stat) is visible with any right.
//   - api.RightWrite allows opening existing files for writing, writing,
//     truncating, chmod and changing timestamps.
//   - api.RightCreate allows creating files (O_CREAT), directories,
//     symlinks and hard links, and is the destination half of a rename.
//   - api.RightDelete allows unlink and rmdir, and is the source half of a
//     rename (which also replaces an existing destination).
//
// A missing right is checked before the path is resolved. Its errno:
//
//   - EROFS when the capability has no mutating right at all (ReadOnly): it
//     behaves like a read-only mount, which programs already understand.
//   - EACCES when it has some mutating rights but not the one needed, like a
//     directory without write permission; also for reading without
//     the read right.
//   - Writing through a descriptor that was opened read-only is EBADF, as
//     POSIX (and wazero's File contract) say.
//
// O_CREAT on an existing file creates nothing and is allowed without
// the create right (as on a read-only mount); the create bit is dropped so the
// open can never create, and a missing file is reported as the refusal.
//
// # Errnos
//
// Host errors map to the errno of the same name; EXDEV becomes ENOTSUP and
// ENOSPC, EDQUOT and the like become EIO, as wazero has no closer ones. An
// escape becomes EPERM: wazero's experimental/sys, whose errnos
// this package answers in, has no ENOTCAPABLE. isle's WASI layer
// (internal/wasip1) refuses ".." past a descriptor's directory and
// absolute paths itself, with ENOTCAPABLE as wasmtime does, before they
// reach this package; what still reaches the walk's check is a
// symlink leading out, which is EPERM.
//
// # What is not guaranteed, and what is done about it
//
//   - On Linux, Chmod is fchmodat2 with AT_SYMLINK_NOFOLLOW; where that
//     is missing (before 6.6) it opens the file O_PATH|O_NOFOLLOW and
//     changes it through /proc/self/fd, as Go's os.Root does, and without
//     /proc it fails (ENOTSUP). It never hands the kernel a name to follow.
//   - Where os.Root resolves names (not Linux): it always follows a final
//     symlink, so O_NOFOLLOW is enforced by an Lstat first (a symlink is
//     ELOOP) and a comparison of the opened file with what Lstat saw (or,
//     when the open created it, with what the name names now), ELOOP if
//     they differ; a lost race can open a file it should not have, but
//     only one inside the root. Chmod and Chtimes may act on a symlink
//     swapped in for the file (see os.Root's documentation). Unlink and
//     Rmdir look at the entry before os.Root.Remove, which takes files and
//     directories alike, and Rename emulates POSIX's "replace an empty
//     directory" with a remove and a rename. A swap in between affects
//     only entries inside the root.
//   - The special-file check runs before the open and again after it.
//     On Linux the open is non-blocking (O_NONBLOCK, cleared after), so
//     a FIFO swapped in between the two is refused, not waited on; but it
//     was opened, and that acts (a writer blocked on it is released), as
//     opening a device the host left in the tree would. Elsewhere such a
//     FIFO can block the open. Also on Linux, opening a file on which
//     another process holds a lease is EAGAIN at once, and starts the
//     lease's break, where a blocking open would wait for it.
//   - Nothing stops crossing into mount points inside the tree, nor hard
//     links the host has already made to files outside: what the host
//     puts in the directory is part of the grant.
//
// # Not hidden
//
// Stat reports the host's device and inode numbers, and timestamps as the
// host kernel set them: a file the guest creates carries the host's real
// time even when the guest's clock is virtual. The WASI layer resolves the
// "now" flags of utimens itself, from the guest's clock, so only
// UTIME_OMIT reaches this package.
package capfs
