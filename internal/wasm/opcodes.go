package wasm

import "fmt"

// Opcode identifies an instruction: the opcode byte for one-byte opcodes,
// and prefix<<16 | sub-opcode for the 0xfc and 0xfd families.
type Opcode uint32

// Prefixes of the multi-byte opcode families.
const (
	PrefixMisc = 0xfc // saturating truncation, bulk memory and tables
	PrefixSIMD = 0xfd
)

// Opcodes that rewriters and validators name. The rest are known to the
// tables below only by their immediates.
const (
	OpUnreachable        Opcode = 0x00
	OpNop                Opcode = 0x01
	OpBlock              Opcode = 0x02
	OpLoop               Opcode = 0x03
	OpIf                 Opcode = 0x04
	OpElse               Opcode = 0x05
	OpEnd                Opcode = 0x0b
	OpBr                 Opcode = 0x0c
	OpBrIf               Opcode = 0x0d
	OpBrTable            Opcode = 0x0e
	OpReturn             Opcode = 0x0f
	OpCall               Opcode = 0x10
	OpCallIndirect       Opcode = 0x11
	OpReturnCall         Opcode = 0x12
	OpReturnCallIndirect Opcode = 0x13
	OpDrop               Opcode = 0x1a
	OpSelect             Opcode = 0x1b
	OpSelectT            Opcode = 0x1c
	OpLocalGet           Opcode = 0x20
	OpLocalSet           Opcode = 0x21
	OpLocalTee           Opcode = 0x22
	OpGlobalGet          Opcode = 0x23
	OpGlobalSet          Opcode = 0x24
	OpI32Const           Opcode = 0x41
	OpI64Const           Opcode = 0x42
	OpF32Const           Opcode = 0x43
	OpF64Const           Opcode = 0x44
	OpI64LtS             Opcode = 0x53
	OpI64Sub             Opcode = 0x7d
	OpRefNull            Opcode = 0xd0
	OpRefFunc            Opcode = 0xd2
	OpMemoryInit         Opcode = PrefixMisc<<16 | 8
	OpV128Const          Opcode = PrefixSIMD<<16 | 0x0c
)

// Prefix is the family prefix byte, or 0 for one-byte opcodes.
func (op Opcode) Prefix() byte { return byte(op >> 16) }

// Sub is the opcode within its family.
func (op Opcode) Sub() uint32 { return uint32(op & 0xffff) }

// String gives the opcode's bytes in hex, such as "0x10" or "0xfd 0x0c".
func (op Opcode) String() string {
	if p := op.Prefix(); p != 0 {
		return fmt.Sprintf("0x%02x 0x%02x", p, op.Sub())
	}
	return fmt.Sprintf("0x%02x", uint32(op))
}

// Imm is the shape of an instruction's immediates.
type Imm uint8

// Immediate shapes.
const (
	ImmNone       Imm = iota
	ImmBlock          // block type
	ImmIdx            // one u32 index (see Space)
	ImmIdx2           // two u32 indices
	ImmBrTable        // vector of labels and a default label
	ImmMemarg         // alignment and offset
	ImmMemargLane     // memarg then a lane byte
	ImmLane           // one lane byte
	ImmI32            // signed 32-bit LEB128
	ImmI64            // signed 64-bit LEB128
	ImmF32            // 4 bytes
	ImmF64            // 8 bytes
	ImmV128           // 16 bytes: v128.const and i8x16.shuffle
	ImmSelectT        // vector of value types
	ImmRefType        // ref.null's heap type byte
)

// Space is the index space an index immediate refers to.
type Space uint8

// Index spaces.
const (
	SpaceNone Space = iota
	SpaceFunc
	SpaceTable
	SpaceMemory
	SpaceGlobal
	SpaceType
	SpaceLocal
	SpaceLabel
	SpaceData
	SpaceElem
)

var spaceNames = [...]string{"none", "function", "table", "memory", "global",
	"type", "local", "label", "data segment", "element segment"}

// String names the space for error messages.
func (s Space) String() string {
	if int(s) < len(spaceNames) {
		return spaceNames[s]
	}
	return "space?"
}

// OpInfo describes an opcode: its immediates and the spaces its index
// immediates (Instr.Index, Instr.Index2) refer to.
type OpInfo struct {
	Imm           Imm
	Space, Space2 Space
	known         bool
}

var (
	opsMVP  [256]OpInfo
	opsMisc [18]OpInfo
	opsSIMD [256]OpInfo
)

// Info returns what the reader knows of an opcode; ok is false for opcodes
// outside the supported set.
func Info(op Opcode) (OpInfo, bool) {
	var i OpInfo
	switch sub := op.Sub(); op.Prefix() {
	case 0:
		if sub < 256 {
			i = opsMVP[sub]
		}
	case PrefixMisc:
		if sub < uint32(len(opsMisc)) {
			i = opsMisc[sub]
		}
	case PrefixSIMD:
		if sub < 256 {
			i = opsSIMD[sub]
		}
	}
	return i, i.known
}

func set(tab []OpInfo, lo, hi int, imm Imm, s1, s2 Space) {
	for i := lo; i <= hi; i++ {
		tab[i] = OpInfo{Imm: imm, Space: s1, Space2: s2, known: true}
	}
}

func init() {
	m := opsMVP[:]
	set(m, 0x00, 0x01, ImmNone, 0, 0) // unreachable, nop
	set(m, 0x02, 0x04, ImmBlock, 0, 0)
	set(m, 0x05, 0x05, ImmNone, 0, 0) // else
	set(m, 0x0b, 0x0b, ImmNone, 0, 0) // end
	set(m, 0x0c, 0x0d, ImmIdx, SpaceLabel, 0)
	set(m, 0x0e, 0x0e, ImmBrTable, SpaceLabel, 0)
	set(m, 0x0f, 0x0f, ImmNone, 0, 0) // return
	set(m, 0x10, 0x10, ImmIdx, SpaceFunc, 0)
	set(m, 0x11, 0x11, ImmIdx2, SpaceType, SpaceTable)
	set(m, 0x12, 0x12, ImmIdx, SpaceFunc, 0)           // return_call
	set(m, 0x13, 0x13, ImmIdx2, SpaceType, SpaceTable) // return_call_indirect
	set(m, 0x1a, 0x1b, ImmNone, 0, 0)                  // drop, select
	set(m, 0x1c, 0x1c, ImmSelectT, 0, 0)               // select t*
	set(m, 0x20, 0x22, ImmIdx, SpaceLocal, 0)          // local.get/set/tee
	set(m, 0x23, 0x24, ImmIdx, SpaceGlobal, 0)         // global.get/set
	set(m, 0x25, 0x26, ImmIdx, SpaceTable, 0)          // table.get/set
	set(m, 0x28, 0x3e, ImmMemarg, 0, 0)                // loads and stores
	set(m, 0x3f, 0x40, ImmIdx, SpaceMemory, 0)         // memory.size/grow
	set(m, 0x41, 0x41, ImmI32, 0, 0)
	set(m, 0x42, 0x42, ImmI64, 0, 0)
	set(m, 0x43, 0x43, ImmF32, 0, 0)
	set(m, 0x44, 0x44, ImmF64, 0, 0)
	set(m, 0x45, 0xc4, ImmNone, 0, 0) // numeric, including sign extension
	set(m, 0xd0, 0xd0, ImmRefType, 0, 0)
	set(m, 0xd1, 0xd1, ImmNone, 0, 0) // ref.is_null
	set(m, 0xd2, 0xd2, ImmIdx, SpaceFunc, 0)

	c := opsMisc[:]
	set(c, 0, 7, ImmNone, 0, 0)                       // trunc_sat
	set(c, 8, 8, ImmIdx2, SpaceData, SpaceMemory)     // memory.init
	set(c, 9, 9, ImmIdx, SpaceData, 0)                // data.drop
	set(c, 10, 10, ImmIdx2, SpaceMemory, SpaceMemory) // memory.copy
	set(c, 11, 11, ImmIdx, SpaceMemory, 0)            // memory.fill
	set(c, 12, 12, ImmIdx2, SpaceElem, SpaceTable)    // table.init
	set(c, 13, 13, ImmIdx, SpaceElem, 0)              // elem.drop
	set(c, 14, 14, ImmIdx2, SpaceTable, SpaceTable)   // table.copy
	set(c, 15, 17, ImmIdx, SpaceTable, 0)             // table.grow/size/fill

	s := opsSIMD[:]
	set(s, 0x00, 0x0b, ImmMemarg, 0, 0) // loads, splats, v128.store
	set(s, 0x0c, 0x0d, ImmV128, 0, 0)   // v128.const, i8x16.shuffle
	set(s, 0x0e, 0x14, ImmNone, 0, 0)
	set(s, 0x15, 0x22, ImmLane, 0, 0) // extract/replace lane
	set(s, 0x23, 0x53, ImmNone, 0, 0)
	set(s, 0x54, 0x5b, ImmMemargLane, 0, 0) // load/store lane
	set(s, 0x5c, 0x5d, ImmMemarg, 0, 0)     // load zero
	set(s, 0x5e, 0xff, ImmNone, 0, 0)
	// Holes in the SIMD opcode space.
	for _, h := range []int{0x9a, 0xa2, 0xa5, 0xa6, 0xaf, 0xb0, 0xb2, 0xb3, 0xb4,
		0xbb, 0xc2, 0xc5, 0xc6, 0xcf, 0xd0, 0xd2, 0xd3, 0xd4, 0xe2, 0xee} {
		s[h] = OpInfo{}
	}
}

// proposalOf names the proposal an unsupported opcode belongs to, so the
// error says why the module is refused.
func proposalOf(prefix byte, sub uint32) string {
	switch prefix {
	case 0xfe:
		return "threads/atomics"
	case 0xfb:
		return "garbage collection"
	case PrefixMisc:
		return "an unknown 0xfc extension"
	case PrefixSIMD:
		if sub >= 0x100 && sub <= 0x113 {
			return "relaxed SIMD"
		}
		return "an unassigned SIMD opcode"
	}
	switch sub {
	case 0x06, 0x07, 0x08, 0x09, 0x0a, 0x18, 0x19, 0x1f:
		return "exception handling"
	case 0x14, 0x15, 0xd3, 0xd4, 0xd5, 0xd6:
		return "typed function references"
	}
	return "no supported proposal"
}
