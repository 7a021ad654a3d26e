// Package fuel injects deterministic fuel metering into WebAssembly modules,
// so that a guest spinning in a loop without calls can always be preempted,
// charged and killed.
//
// Instrument adds one mutable i64 global, the counter, and one function
// import, isle:fuel.yield. Every function entry and every loop header gets a
// check that subtracts a static cost from the counter and calls yield when
// the counter goes negative. The host refills the counter in yield (a new
// time slice), or returns an error from it to kill the guest.
//
// # Why indices are validated first
//
// The rewrite appends a global, an import and possibly a type. In the
// original module, an index one past the end of a space is invalid; after
// the rewrite, the same number would name what the rewrite added. A guest
// doing global.get N, where N is its global count, would read or write its
// own fuel. So before anything moves, every index immediate in code and in
// every section is checked against the original counts, and the module is
// refused if one is out of range. Full type checking is left to wazero,
// which compiles the rewritten module: the inserted sequences are well typed
// and stack-neutral, so a module that is invalid stays invalid.
//
// # Why this cost model
//
// A check charges the number of instructions it guards: the entry check
// those of the function outside any loop, a loop header those directly in
// that loop (nested loops charge their own). Every instruction counts one,
// block, else and end included; a loop's own opcode and its end run once
// per entry, so they count for the enclosing scope. It is an over-estimate when
// branches skip code, but it is static, so the same program with the same
// inputs uses exactly the same fuel on every run and on every machine,
// which wall-clock preemption cannot give. Every back-edge passes a loop
// header and every call passes an entry check, so no execution of unbounded
// length avoids the counter. Only checks of empty loops, which cannot
// branch back, are omitted.
//
// # Why the counter is exported under a reserved name
//
// The host must read the counter to account for CPU and write it to refill,
// and an export is the one handle wazero gives the host on a global. The
// name isle:fuel is not a valid identifier in most source languages, and a
// module that already imports from isle:fuel or exports that name is
// refused, so the host can never mistake a guest's own global or import
// for the injected ones. Guest code cannot name the counter, since its index
// did not exist before the rewrite. (A host that registered an instance
// under a name would let other modules import the counter; isle does not.)
//
// # How DWARF is remapped, and what is lost
//
// The rewrite records which bytes of the new code section were copied from
// where (OffsetMap). When the original carries DWARF, the rewrite reads
// every compile unit and every line row with debug/dwarf, moves each row
// address and each unit range forward through the map, and replaces the
// .debug_* sections with a minimal DWARF 4 of its own: per unit, a
// compile_unit entry with its name, line table offset and ranges, and a
// line table whose file names are already resolved. That is all wazero
// needs to print file:line in traces. Everything else is dropped: types,
// variables, subprograms and inlined-subroutine entries (so traces lose the
// "inlined" frames), as well as discriminators and prologue markers. Rows
// of dead code (tombstone addresses) are dropped too. Injected checks have
// no row of their own: they fall within the row of the instruction before
// them, the function's first line or the loop's.
package fuel
