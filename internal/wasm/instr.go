package wasm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// BlockType is a block's type: BlockEmpty, a value type (as the negative
// number its one-byte encoding reads as in s33), or a type index (>= 0).
type BlockType int64

// BlockEmpty is the block type of a block without results (byte 0x40).
const BlockEmpty BlockType = -0x40

// TypeIndex returns the type index of a multi-value block type.
func (b BlockType) TypeIndex() (uint32, bool) { return uint32(b), b >= 0 }

// ValType returns the result type of a single-result block type.
func (b BlockType) ValType() (ValType, bool) {
	if b < 0 && b != BlockEmpty {
		return ValType(byte(b) & 0x7f), true
	}
	return 0, false
}

// Instr is one decoded instruction. Only the fields its opcode's Imm shape
// names are set; the reader does not clear the others.
type Instr struct {
	Op       Opcode
	Pos, End int // the instruction's bytes are buf[Pos:End]
	// IdxPos is where the first index immediate starts (ImmIdx, ImmIdx2,
	// ImmBrTable), so rewriters can patch it in place.
	IdxPos int

	Block         BlockType
	Index, Index2 uint32   // ImmIdx, ImmIdx2; for br_table, the default label
	Labels        []uint32 // br_table targets before the default; reused
	Align, Offset uint32   // memarg
	Lane          byte
	Int           int64 // i32.const (sign-extended) and i64.const
	Bits          uint64
	V128          [16]byte
	Types         []ValType // select t*; reused
	RefType       ValType   // ref.null
}

// OpcodeError reports an opcode outside the supported set.
type OpcodeError struct {
	Op       Opcode
	Offset   int    // where the opcode starts
	Proposal string // the proposal it belongs to, when known
}

// Error names the opcode, the proposal it belongs to and where it is.
func (e *OpcodeError) Error() string {
	return fmt.Sprintf("unsupported opcode %v (%s) at offset %d", e.Op, e.Proposal, e.Offset)
}

// Reader decodes instructions from a code buffer. The zero Reader is empty;
// Reset points it at a buffer.
type Reader struct {
	buf []byte
	pos int
}

// Reset makes the reader decode b from its start.
func (r *Reader) Reset(b []byte) { r.buf, r.pos = b, 0 }

// Seek moves the reader to offset p of its buffer.
func (r *Reader) Seek(p int) { r.pos = p }

// Pos is the offset of the next instruction.
func (r *Reader) Pos() int { return r.pos }

// Next decodes the next instruction into in. It returns io.EOF when the
// buffer is exhausted, and a descriptive error for malformed bytes.
func (r *Reader) Next(in *Instr) error {
	b, p := r.buf, r.pos
	if p >= len(b) {
		return io.EOF
	}
	in.Pos = p
	op := Opcode(b[p])
	p++
	var info OpInfo
	switch op {
	case PrefixMisc, PrefixSIMD:
		sub, q, err := ReadU32(b, p)
		if err != nil {
			return r.fail(in.Pos, fmt.Errorf("opcode 0x%02x: %w", byte(op), err))
		}
		p = q
		op = op<<16 | Opcode(sub&0xffff)
		if sub > 0xffff {
			op = op&^0xffff | 0xffff
		}
		var ok bool
		if info, ok = Info(op); !ok || sub > 0xffff {
			return r.unsupported(in.Pos, byte(op>>16), sub)
		}
	default:
		info = opsMVP[op]
		if !info.known {
			if op == 0xfe || op == 0xfb { // name the sub-opcode of these families too
				if sub, _, err := ReadU32(b, p); err == nil {
					return r.unsupported(in.Pos, byte(op), sub)
				}
			}
			return r.unsupported(in.Pos, 0, uint32(op))
		}
	}
	in.Op = op
	p, err := r.immediates(in, info.Imm, p)
	if err != nil {
		return r.fail(in.Pos, fmt.Errorf("opcode %v: %w", op, err))
	}
	in.End = p
	r.pos = p
	return nil
}

func (r *Reader) fail(at int, err error) error {
	r.pos = len(r.buf)
	return fmt.Errorf("at offset %d: %w", at, err)
}

func (r *Reader) unsupported(at int, prefix byte, sub uint32) error {
	r.pos = len(r.buf)
	op := Opcode(sub)
	if prefix != 0 {
		op = Opcode(prefix)<<16 | Opcode(min(sub, 0xffff))
	} else if sub == 0xfe || sub == 0xfb {
		// Name the family even though its sub-opcode was not read.
		prefix = byte(sub)
	}
	return &OpcodeError{Op: op, Offset: at, Proposal: proposalOf(prefix, sub)}
}

var errBadValType = errors.New("malformed value type")

// immediates decodes the immediates of shape imm starting at b[p:].
func (r *Reader) immediates(in *Instr, imm Imm, p int) (int, error) {
	b := r.buf
	var err error
	switch imm {
	case ImmNone:
	case ImmBlock:
		var v int64
		if v, p, err = ReadS33(b, p); err != nil {
			return p, err
		}
		if v < 0 && BlockType(v) != BlockEmpty && (v < -0x40 || !ValType(byte(v)&0x7f).valid()) {
			return p, fmt.Errorf("%w 0x%02x in block type", errBadValType, byte(v)&0x7f)
		}
		in.Block = BlockType(v)
	case ImmIdx:
		in.IdxPos = p
		in.Index, p, err = ReadU32(b, p)
	case ImmIdx2:
		in.IdxPos = p
		if in.Index, p, err = ReadU32(b, p); err == nil {
			in.Index2, p, err = ReadU32(b, p)
		}
	case ImmBrTable:
		in.IdxPos = p
		p, err = r.brTable(in, p)
	case ImmMemarg, ImmMemargLane:
		p, err = readMemarg(in, b, p)
		if err == nil && imm == ImmMemargLane {
			p, err = readLane(in, b, p)
		}
	case ImmLane:
		p, err = readLane(in, b, p)
	case ImmI32:
		var v int32
		v, p, err = ReadS32(b, p)
		in.Int = int64(v)
	case ImmI64:
		in.Int, p, err = ReadS64(b, p)
	case ImmF32:
		if len(b)-p < 4 {
			return p, ErrUnexpectedEnd
		}
		in.Bits = uint64(binary.LittleEndian.Uint32(b[p:]))
		p += 4
	case ImmF64:
		if len(b)-p < 8 {
			return p, ErrUnexpectedEnd
		}
		in.Bits = binary.LittleEndian.Uint64(b[p:])
		p += 8
	case ImmV128:
		if len(b)-p < 16 {
			return p, ErrUnexpectedEnd
		}
		copy(in.V128[:], b[p:p+16])
		p += 16
	case ImmSelectT:
		p, err = r.selectTypes(in, p)
	case ImmRefType:
		if p >= len(b) {
			return p, ErrUnexpectedEnd
		}
		in.RefType = ValType(b[p])
		if in.RefType != FuncRef && in.RefType != ExternRef {
			return p, fmt.Errorf("malformed reference type 0x%02x", b[p])
		}
		p++
	}
	return p, err
}

func (r *Reader) brTable(in *Instr, p int) (int, error) {
	n, p, err := ReadU32(r.buf, p)
	if err != nil {
		return p, err
	}
	if uint64(n) >= uint64(len(r.buf)-p) { // each label takes a byte, plus the default
		return p, fmt.Errorf("br_table of %d labels: %w", n, ErrUnexpectedEnd)
	}
	in.Labels = in.Labels[:0]
	for i := uint32(0); i < n; i++ {
		var l uint32
		if l, p, err = ReadU32(r.buf, p); err != nil {
			return p, err
		}
		in.Labels = append(in.Labels, l)
	}
	in.Index, p, err = ReadU32(r.buf, p)
	return p, err
}

func (r *Reader) selectTypes(in *Instr, p int) (int, error) {
	n, p, err := ReadU32(r.buf, p)
	if err != nil {
		return p, err
	}
	if uint64(n) > uint64(len(r.buf)-p) {
		return p, fmt.Errorf("select of %d types: %w", n, ErrUnexpectedEnd)
	}
	in.Types = in.Types[:0]
	for i := uint32(0); i < n; i++ {
		t := ValType(r.buf[p])
		if !t.valid() {
			return p, fmt.Errorf("%w 0x%02x in select", errBadValType, byte(t))
		}
		in.Types = append(in.Types, t)
		p++
	}
	return p, nil
}

func readMemarg(in *Instr, b []byte, p int) (int, error) {
	var err error
	if in.Align, p, err = ReadU32(b, p); err != nil {
		return p, err
	}
	if in.Align >= 64 {
		// Bit 6 would announce a memory index (multi-memory).
		return p, fmt.Errorf("malformed memop flags 0x%x (multiple memories are not supported)", in.Align)
	}
	in.Offset, p, err = ReadU32(b, p)
	return p, err
}

func readLane(in *Instr, b []byte, p int) (int, error) {
	if p >= len(b) {
		return p, ErrUnexpectedEnd
	}
	in.Lane = b[p]
	return p + 1, nil
}
