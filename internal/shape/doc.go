// Package shape checks a module's shape against limits before wazero
// compiles it, so that a hostile module is refused at once, with one line
// naming the limit, the item and the value, instead of holding the
// compiler for minutes or making it allocate gigabytes.
//
// # Why
//
// wazero v1.12 (the compiler engine, as isle configures it) trusts the
// binary in two ways that a small module can abuse:
//
//   - Its decoder allocates every vector at the length the binary
//     declares, before reading an element: 2^32-1 locals declared in six
//     bytes make it allocate 4 GiB, and the counts of the type, function,
//     code, data and element sections, of the name section's maps, and a
//     custom section's size do the same or worse.
//   - Its compile time grows faster than the code. Measured on the 2-core
//     test machine: nested blocks cost the square of their
//     depth (16,000 took 2.6 s; 45,000 held `isle run --timeout 1s` for
//     9-14 s), but so do blocks that are not nested at all, because wazero
//     walks the dominator tree from every basic block: 16,000 ifs in a row
//     (80 KB) took 24 s. Locals read inside nested loops, or set inside
//     nested ifs, become parameters of every enclosing loop or if, and the
//     redundant-phi pass is quadratic in each block's parameters: 128 ifs
//     around 4,096 locals (37 KB) took 10.6 s and 477 MB. A call of a
//     function of 16 results passing them to the next costs 1.5 µs and
//     0.7 KB per value, from two bytes of code. Some instructions cost
//     tens of microseconds each: call_indirect 58 µs, memory.copy 63 µs,
//     memory.fill 146 µs, an integer division 19 µs, a br_table target
//     12 µs and more in a large br_table (65,536 targets: 2 s).
//
// Check walks the binary once, in order, with internal/wasm's readers,
// and allocates nothing in proportion to any count in it: 24 ms of CPU
// for a 2.6 MB Go binary (about 110 MB/s), against about 2 s for wazero
// to compile it.
//
// # Limits and defaults
//
// Most limits bound a count or a size; the defaults admit every real
// program measured with a margin of four times or more, and more where a
// count costs wazero little (types, imports, exports, globals), so as not
// to refuse C and C++ programs larger than those measured. Locals,
// TypeArity and BrTableTargets are set to admit the spec tests. The
// kernel checks a process's memory limit against the declared memory at
// spawn; MemoryMinPages only refuses declarations no deployment wants. The programs: the
// repository's Go guests (1.9-3.4 MB) and examples, a Go program using
// net/http, crypto/tls, encoding/json, html/template, image/png and
// go/format (testdata/bigguest, 14.0 MB, the largest ordinary program),
// the C guests at -O0 and -O2, and the 1,721 spec test modules that
// wazero compiles. The largest values seen, and the defaults:
//
//	limit             largest real value                       default
//	ModuleBytes       14.0 MB (bigguest)                       64 MiB
//	CustomSections    9 (C at -O0 -g); spec 22                 256
//	Types             21 (Go); spec 29                         4096
//	TypeArity         11 (C); spec 101                         128
//	Imports           33 (Go)                                  1024
//	Functions         8,360 (bigguest)                         65536
//	Tables            1; spec 4                                8
//	TableMin          12,423 (bigguest)                        131072
//	MemoryMinPages    114 (bigguest)                           16384 (1 GiB)
//	Globals           8 (Go); spec 15                          1024
//	Exports           3; spec 479                              16384
//	ElemSegments      1; spec 65                               1024
//	ElemSegmentItems  8,327 (bigguest)                         131072
//	DataSegments      100,000 (Go's linker never writes more)  524288
//	FunctionBytes     50,636 (bigguest)                        1 MiB
//	Locals            535 (C at -O0); spec 1,056               4096
//	Nesting           570 (Go's runtime); spec 40              4096
//	BrTableTargets    1,145 (bigguest); spec 16,150            65536
//	FunctionWork      2.0e8 (bigguest)                         1e9
//	CompileWork       8.9e9 (bigguest)                         4e10
//
// Go's own compiler built for wasip1 (49 MB, the largest real program
// found) nests 7,740 deep, has a br_table of 12,049 targets and a function
// of 666 KB, and needs FunctionWork 1.2e10 and CompileWork 9.3e10: wazero
// takes about three minutes and 850 MB to compile it. The defaults refuse
// it; a deployment that runs such programs raises those two limits.
//
// Go's real nesting is not close to the danger: a Go function nests 549
// deep because every call site is a block of the resume dispatch, and 549
// nested blocks compile in milliseconds. What makes wazero slow is the
// number of basic blocks chained in one function, nested or not: seconds
// start at about 10,000. Go's largest function has about 1,500 blocks,
// loops, ifs and br_ifs, and an estimated 0.2 s of compile work.
//
// # Compile work
//
// Counts alone cannot bound the compile time: every quadratic shape above
// fits in well under a megabyte. So Check also estimates what wazero will
// spend on each function (fnCost), from weights measured on wazero itself
// (TestCalibrate writes weights.go): a base per function, each
// instruction's own weight, each value a call or branch moves, each basic
// block times the blocks before it (the dominator walks, counting the
// blocks isle's fuel instrumentation adds), and each label's parameters
// squared (the phi pass). Every term is calibrated on the shape that
// costs most per unit, so the estimate bounds each measured shape from
// above, within the noise of measuring; on Go programs it is 10-15% below
// the real compile CPU (bigguest: estimated 8.9 s, measured 10.6 s).
// FunctionWork bounds one function's estimate, and with it the memory of
// compiling it; CompileWork bounds the module's, in units of about a
// nanosecond of compile CPU on the calibration machine.
//
// # The worst the defaults admit
//
// TestWorstCase builds, for each expensive shape, the largest module the
// defaults admit, and compiles it as the kernel does (fuel-instrumented).
// Each is 40 functions at FunctionWork unless said; wall time was on a
// shared, loaded machine. For scale, bigguest compiles in 10.6 s of CPU
// and 168 MB.
//
//	shape                                    module   CPU     wall   peak RSS
//	nested blocks, 4,096 deep (95 functions)  1.2 MB  10.4 s  16 s    21 MB
//	nested loops                              0.2 MB  10.3 s  18 s    34 MB
//	br_ifs in a row                           1.0 MB  31.6 s  52 s    51 MB
//	ifs in a row                              0.4 MB   3.8 s   5 s    28 MB
//	locals read in nested loops               0.6 MB  17.1 s  22 s    28 MB
//	locals set in nested ifs                  1.4 MB  42.5 s  58 s   180 MB
//	a br_table each                           1.6 MB  26.9 s  27 s   139 MB
//	calls passing 16 values on                1.6 MB  29.2 s  30 s   726 MB
//	call_indirect                             3.5 MB  26.8 s  27 s   496 MB
//	memory.copy                               6.3 MB  27.7 s  30 s   426 MB
//	memory.fill                               0.7 MB   9.5 s  16 s   103 MB
//	i32.div_s                                12.3 MB  14.3 s  23 s   776 MB
//	64,511 empty functions                    0.3 MB   0.5 s   1 s    61 MB
//	every limit at once, filled to 64 MiB    67.1 MB  33.3 s  49 s   407-500 MB
//
// So the defaults hold a hostile module to about four times the compile
// time and memory of the largest ordinary Go program. The memory is about
// 0.3 GB for the heaviest function (FunctionWork bounds it) plus the
// compiled code of all of them (CompileWork bounds it). A deployment that
// needs less lowers FunctionWork and CompileWork; one that runs larger
// programs raises them.
package shape
