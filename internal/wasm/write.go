package wasm

import "encoding/binary"

// AppendInstr appends the canonical encoding of in: shortest LEB128 for
// every integer. It writes the fields the opcode's Imm shape names.
func AppendInstr(dst []byte, in *Instr) []byte {
	info, _ := Info(in.Op)
	if p := in.Op.Prefix(); p != 0 {
		dst = append(dst, p)
		dst = AppendU32(dst, in.Op.Sub())
	} else {
		dst = append(dst, byte(in.Op))
	}
	switch info.Imm {
	case ImmBlock:
		dst = AppendS64(dst, int64(in.Block))
	case ImmIdx:
		dst = AppendU32(dst, in.Index)
	case ImmIdx2:
		dst = AppendU32(dst, in.Index)
		dst = AppendU32(dst, in.Index2)
	case ImmBrTable:
		dst = AppendU32(dst, uint32(len(in.Labels)))
		for _, l := range in.Labels {
			dst = AppendU32(dst, l)
		}
		dst = AppendU32(dst, in.Index)
	case ImmMemarg, ImmMemargLane:
		dst = AppendU32(dst, in.Align)
		dst = AppendU32(dst, in.Offset)
		if info.Imm == ImmMemargLane {
			dst = append(dst, in.Lane)
		}
	case ImmLane:
		dst = append(dst, in.Lane)
	case ImmI32, ImmI64:
		dst = AppendS64(dst, in.Int)
	case ImmF32:
		dst = binary.LittleEndian.AppendUint32(dst, uint32(in.Bits))
	case ImmF64:
		dst = binary.LittleEndian.AppendUint64(dst, in.Bits)
	case ImmV128:
		dst = append(dst, in.V128[:]...)
	case ImmSelectT:
		dst = AppendU32(dst, uint32(len(in.Types)))
		for _, t := range in.Types {
			dst = append(dst, byte(t))
		}
	case ImmRefType:
		dst = append(dst, byte(in.RefType))
	}
	return dst
}
