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
// # Why os.Root
//
// Every path operation here goes through an os.Root (Go 1.24+). On Unix it
// holds a descriptor for the directory and resolves names one component at
// a time with openat(O_NOFOLLOW), reading each symlink and continuing the
// walk itself, refusing any link or ".." that would leave the root. There
// is no moment at which a host path is built and handed to the kernel, so
// no symlink swapped in by a racing process (or guest) can redirect it.
// Rename and Link resolve both names in the root, so nothing can be moved
// or hard-linked across the boundary in either direction. Open files work
// on their descriptor only and are never re-opened by name.
//
// One exception, for speed: on Linux, a stat or an open of a clean path
// with no ".." asks the kernel to resolve it in one openat2 call with
// RESOLVE_BENEATH and RESOLVE_NO_SYMLINKS, which refuses any step out of
// the root and any symlink on the way or (for an open) at the end; a
// stat's last name is stat'ed relative to its directory without being
// followed. A symlink, or any refusal or failure, sends the call to
// os.Root (beneath_linux.go). The two answer alike but for permissions:
// the kernel's walk asks only search permission of each directory on the
// way, where os.Root opens each one for reading. So a process not running
// as root can stat and open a plain path through a directory it may
// search but not read (mode 0311), which os.Root refuses, and which stays
// refused when spelled through a symlink. Either way the answer is one
// the host's own permissions allow, inside the root.
//
// # Defence in depth
//
//   - Guest symlinks whose target is absolute or has a ".." component are
//     refused (EPERM), so that no link the guest makes can lead a host
//     program that follows it out of the tree, whatever the guest does
//     later (see mayLeave). os.Root is what contains the guest itself.
//   - Device nodes and FIFOs are refused (EACCES). os.Root does not stop
//     them, and opening a FIFO blocks in the kernel where no timeout
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
// os.Root escape becomes EPERM: wazero's experimental/sys, whose errnos
// this package answers in, has no ENOTCAPABLE. isle's WASI layer
// (internal/wasip1) refuses ".." past a descriptor's directory and
// absolute paths itself, with ENOTCAPABLE as wasmtime does, before they
// reach this package; what still reaches os.Root's check is a symlink
// leading out, which is EPERM.
//
// # What os.Root does not guarantee, and what is done about it
//
//   - os.Root always follows a final symlink (it adds O_NOFOLLOW itself,
//     then resolves the link), so O_NOFOLLOW is enforced here: Lstat
//     through the root first (a symlink is ELOOP), then, after the open,
//     compare the opened file with what Lstat saw (or, when the open
//     created it, with what the name names now) and fail with ELOOP if
//     they differ. A lost race can open a file it should not have, but
//     only one inside the root.
//   - Chmod and Chtimes (Utimens by path) may act on a symlink that was
//     swapped in for the file during the call, instead of its target (see
//     os.Root's documentation). The link is inside the root, so this
//     cannot escape; on Linux a chmod on a link fails. Utimens on an open
//     File uses the descriptor (futimens) and has no such race.
//   - Unlink and Rmdir look at the entry before os.Root.Remove, which
//     takes files and directories alike; Rename emulates POSIX's "replace
//     an empty directory" with a remove and a rename. A swap in between
//     affects only entries inside the root.
//   - The special-file check runs before the open and again after it; a
//     FIFO swapped in between the two can still block the open.
//   - os.Root does not stop crossing into mount points inside the tree,
//     nor hard links the host has already made to files outside: what the
//     host puts in the directory is part of the grant.
//
// # Not hidden
//
// Stat reports the host's device and inode numbers, and timestamps as the
// host kernel set them: a file the guest creates carries the host's real
// time even when the guest's clock is virtual. The WASI layer resolves the
// "now" flags of utimens itself, from the guest's clock, so only
// UTIME_OMIT reaches this package.
package capfs
