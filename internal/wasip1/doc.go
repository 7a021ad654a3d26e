// Package wasip1 is isle's implementation of WASI preview1
// ("wasi_snapshot_preview1"): all 46 functions, over the directory
// capabilities of internal/capfs and the process's own clock, entropy and
// stdio.
//
// One host module serves every process of a kernel (NewModule); each call
// finds its caller's State through the context. A State is made at spawn
// from what the process was granted (New) and closed when it ends
// (State.Close), which flushes what it wrote to stdout and stderr.
//
// The functions follow the witx documents and their prose; where those
// are silent, they behave as wasmtime does. Where isle departs from
// either, and why, is in docs/RATIONALE.md ("isle owns WASI preview1").
// In short:
//
//   - Every descriptor has its own rights: what path_open was asked for
//     that applies to what it opened, less reading or writing it was not
//     opened for. A missing right is ENOTCAPABLE; reading or writing
//     against the open mode is EBADF.
//   - A call that can block (a read of stdin, a write to a full stdout
//     queue, poll_oneoff, a real-clock sleep) waits through Host.Blocking
//     and gives way to a kill.
//   - Paths are relative to their descriptor and cannot leave it: an
//     absolute path or ".." past the descriptor's directory is
//     ENOTCAPABLE. The file system (capfs) confines what they resolve to.
package wasip1
