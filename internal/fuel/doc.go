// Package fuel injects deterministic fuel metering into WebAssembly modules,
// so that a guest spinning in a loop without calls can always be preempted,
// charged and killed; and bounds what a guest can do between two returns to
// the host: bulk operations, call stack depth and table growth.
//
// Instrument adds two mutable globals, the fuel counter and the stack
// budget, and three function imports from isle:fuel: yield, stack and
// table_grow. Every function entry and every loop header gets a check that
// subtracts a static cost from the counter and calls yield when the counter
// goes negative. The host refills the counter in yield (a new time slice),
// or returns an error from it to kill the guest.
//
// # The host's side
//
//   - isle:fuel.yield () -> (): called when the counter (the i64 exported
//     as GlobalExport, initially 0) is negative, and before every chunk of
//     a bulk operation longer than a chunk, whatever the counter. The host
//     charges what the counter used, refills it, and may trap to kill the
//     guest. It must leave the counter at zero or above, or trap: a loop
//     calls yield from outside itself and enters itself again (see below),
//     so a counter left negative would call yield again at once, without
//     an iteration in between.
//   - isle:fuel.stack () -> (): called on entering a function when the
//     stack budget (the i32 exported as StackGlobalExport, initially
//     StackInitial) went negative. The host adds StackChunk until it is not
//     negative, charging the process's memory, or traps when the process
//     may not have more. Frames are given back on return, so the budget
//     climbs again as the stack unwinds; the host may take back and refund
//     what is above StackChunk whenever it runs. It must keep its total
//     grant below 1 GiB so that the i32 never wraps.
//   - isle:fuel.table_grow (n i32) -> i32: called before every table.grow
//     of n entries. Nonzero lets the grow run (the host has charged for
//     it); zero fails it with -1, as a grow beyond the table's maximum.
//
// # Why indices are validated first
//
// The rewrite appends globals, imports, types and functions. In the
// original module, an index one past the end of a space is invalid; after
// the rewrite, the same number would name what the rewrite added. A guest
// doing global.get N, where N is its global count, would read or write its
// own fuel. So before anything moves, every index immediate in code and in
// every section is checked against the original counts, and the module is
// refused if one is out of range. Full type checking is left to wazero,
// which compiles the rewritten module: the inserted sequences are well typed
// and stack-neutral, and a replaced instruction becomes a call of the same
// type, so a module that is invalid stays invalid.
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
// # Why a loop's yield is called from outside it
//
// A call anywhere in a loop costs the loop on every iteration, even where
// it never runs: wazero's register allocator keeps what lives across a
// call in memory, so a check calling yield at a loop header sent the
// values the loop carries through the stack on every iteration. So the
// check of a loop without parameters branches out of the loop to a call
// of yield placed after it, which then enters the loop again (hoist.go);
// the loop's own label stays where it was, and branches from inside it to
// labels outside it are renumbered past the three constructs this adds.
// The charges and the calls of yield are exactly those of a call in
// place. On C n-body, the overhead over uninstrumented code went from
// about 25% to 2 to 7%; a loop that calls functions anyway gains nothing.
// Loops with parameters, loops nested inside eight hoisted ones and loops
// after a function's first 64 keep the call in place (hoist.go says why).
// A hoisted loop's yield lies after the loop's end, so a trap in it, such
// as a kill, is reported at the row of the loop's last instruction.
//
// A bulk operation of n bytes costs 1 + max(n, MemoryChargeFloor)/16
// units, MemoryBytesPerFuel being 16; of n table entries, 1 + max(n,
// TableChargeFloor). On the machine this was measured on, wazero filled
// and copied 16 to 45 bytes a nanosecond within a 64 KiB chunk (3 for a
// 32 MiB fill, out of cache), while a simple instruction of a loop took
// about a nanosecond: 16 bytes are worth about an instruction. Table
// operations go entry by entry. The floor lets the short operations that
// dominate, such as a Go program's small memmoves, be charged statically,
// like any instruction, at the price of over-charging them by up to 16
// units. The length is an input like any other, so this charge is as
// deterministic as the rest; but a length can follow the clock: the Go
// runtime zeroes memory in amounts that depend on time, small ones that
// the floor absorbs (without the floor, a Go kernel's fuel varied from
// run to run with real clocks).
//
// # Why bulk operations are split
//
// One memory.fill of a large memory is a single native call: it ran for
// over a minute past its process's timeout, and, since compiled code has
// no safepoint inside it, Go's garbage collector could not stop the world
// meanwhile. So memory.fill, memory.copy, memory.init, table.fill,
// table.copy and table.init are put behind a test of their length. Up to
// the charge floor they run as they were. Longer ones go to an injected
// helper of the same type, one per instruction and index immediates, which
// charges the rest of the length and runs the instruction as it is when
// the length is at most a chunk (MemoryChunk bytes, TableChunk entries:
// the same fuel, a few microseconds), calling yield if the counter went
// negative. Past a chunk, the helper first checks the bounds in 64-bit
// arithmetic exactly as the instruction would, and a segment's by a
// zero-length copy from the end of the range, so that an operation that
// would trap traps before writing anything, with the instruction's own
// trap. It then works a chunk at a time, charging each and calling yield
// before each, so the host regains control every few microseconds. A copy
// to a higher address goes from the end, so overlapping copies give what
// one memmove gives. An instruction whose length is a constant of at most
// a chunk is left alone and charged statically.
//
// # How the call stack is bounded
//
// wazero grows a guest's call stack on the Go heap, doubling it, up to
// about 100 MB before it reports an overflow: far beyond a process's
// memory limit, and invisible to it. So every function that calls (leaves
// are one frame deep and bounded by their code) subtracts an estimate of
// its frame, in bytes, from the stack budget on entry, calls the stack
// import when that goes negative, and adds it back before every return,
// before its final end and before every tail call. A branch to the
// function's own label is a return that nothing can be inserted before: a
// function with one is wrapped in a block of its result type, which the
// branch then leaves, and its frame is given back after that block. A trap
// gives nothing back: the process dies. The budget counts live frames;
// wazero's allocation is up to twice that when it has just doubled, plus
// the old copy until the collector frees it, which the host may charge.
// Such a function's entry tests the counter and the budget at once (the
// or of the two is negative when either is), and its rare slow path, an
// injected function, calls yield or stack as they are due: the test costs
// one branch, not two.
//
// The estimate bounds what wazero's amd64 backend makes of a frame: the
// return address and frame pointer, up to 13 callee-saved registers of 16
// bytes, a spill slot for every SSA value that must live across a call or
// does not fit in registers (wazero gives each its own slot for the whole
// function), and the stack part of the largest call's arguments and
// results. It counts as values the parameters, results and locals, one per
// instruction that produces a value, each call's results, the parameters
// and results of every block, and the merges where locals meet: a local
// defined inside n enclosing blocks that did not define it before can
// need a merge value at each. So
//
//	frame = FrameBase + slot × (values + largest call's params and results)
//
// with FrameBase = 256 and slot = 8 bytes, or 16 in a function that
// touches v128, and at most MaxFrame. Measured against wazero v1.12.0
// (recursing until wazero's overflow and dividing the stack it reached by
// the depth; TestFrameEstimateCoversWazero):
//
//	shape of the recursive function                   wazero   estimate
//	no params, no locals                                  17        288
//	1 i32 param                                           24        320
//	8 i64 params                                          48        432
//	50 i64 params                                        726       1104
//	20 i64 results                                       216        928
//	200 i64 locals live across the call                 1618       9920
//	50 v128 locals live across the call                  824       5184
//	200 i64 operands under the call                     1618       5120
//	50 locals redefined around 20 calls                 7823      18880
//	30 locals defined in 30 nested ifs with calls       6464       8960
//	loop with a call redefining 40 locals                662       1968
//	call_indirect with 30 i64 params                     487       1032
//
// The estimate is always above, by 1.4 to 17 times: a bound must cover the
// worst a function's code allows, such as every value spilled, while most
// functions spill little. A Go program's calling functions estimate 1.6 KiB
// at the median, 6.5 KiB at the 90th percentile. The bound holds for the
// way wazero's SSA builder and register allocator work today; a guest
// that found a shape outside it would still meet wazero's own overflow.
//
// # Why table.grow asks the host
//
// A table's entries live on the Go heap, outside the memory limit: one
// grow of 16M entries held over 120 MiB. A failed grow (-1) is always
// allowed by the specification, so table.grow becomes a call of a helper
// that asks the host through table_grow, charges a unit of fuel per entry
// and grows only if the host agreed.
//
// # Why the counter is exported under a reserved name
//
// The host must read the counter to account for CPU and write it to refill,
// and an export is the one handle wazero gives the host on a global. The
// names isle:fuel and isle:stack are not valid identifiers in most source
// languages, and a module that already imports from isle:fuel or exports
// either name is refused, so the host can never mistake a guest's own
// global or import for the injected ones. Guest code cannot name the
// globals, the imports or the helpers, since their indices did not exist
// before the rewrite. (A host that registered an instance under a name
// would let other modules import the counter; isle does not.)
//
// # Why large tables are filled lazily
//
// wazero fills a table from its active element segments at every
// instantiation, making a function reference for every slot: about 1,700
// allocations for a Go module, half of a Go reactor's spawn from an
// image. A table that only call_indirect can reach is filled on first
// use instead (lazytable.go): its segments become declarative, and the
// slot a call_indirect names is filled just before the call, if it is
// still null and a segment would have filled it. The guest cannot tell,
// since nothing else can read the table. The rewrite lists such tables in
// the custom section LazyTablesSection, which a guest module may not have.
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
// them, the function's first line or the loop's (or, for a hoisted
// loop's yield, the loop's last instruction's). A bulk instruction keeps
// its bytes and its row, behind the injected test of its length; a trap
// in a helper shows the helper's frame over the row of the code just
// before the instruction, and a trap in table.grow's helper the row of
// table.grow, which the call replaced.
package fuel
