package fuel

import (
	"encoding/binary"

	"github.com/isle-run/isle/internal/wasm"
)

// DWARF constants used by the encoder.
const (
	dwTagCompileUnit = 0x11
	dwAtName         = 0x03
	dwAtStmtList     = 0x10
	dwAtLowPC        = 0x11
	dwAtHighPC       = 0x12
	dwAtRanges       = 0x55
	dwFormAddr       = 0x01
	dwFormData4      = 0x06
	dwFormString     = 0x08
	dwFormSecOffset  = 0x17

	dwLnsCopy       = 0x01
	dwLnsAdvancePC  = 0x02
	dwLnsAdvLine    = 0x03
	dwLnsSetFile    = 0x04
	dwLnsSetColumn  = 0x05
	dwLnsNegateStmt = 0x06
	dwLneEndSeq     = 0x01
	dwLneSetAddress = 0x02

	abbrevLowHigh = 1 // a unit with one contiguous range
	abbrevRanges  = 2 // a unit with a range list
)

// encodeDWARF writes .debug_abbrev, .debug_info, .debug_line and, when a
// unit is not contiguous, .debug_ranges. Everything else of the original
// DWARF (types, variables, subprograms, inlined subroutines, macros,
// discriminators and prologue/epilogue markers) is dropped: wazero's traces
// need only units, their ranges and their line tables.
func encodeDWARF(cus []cuLines) []wasm.Section {
	abbrev := []byte{
		abbrevLowHigh, dwTagCompileUnit, 0, // DW_CHILDREN_no
		dwAtName, dwFormString, dwAtStmtList, dwFormSecOffset,
		dwAtLowPC, dwFormAddr, dwAtHighPC, dwFormData4, 0, 0,
		abbrevRanges, dwTagCompileUnit, 0,
		dwAtName, dwFormString, dwAtStmtList, dwFormSecOffset,
		dwAtLowPC, dwFormAddr, dwAtRanges, dwFormSecOffset, 0, 0,
		0,
	}
	var info, line, ranges []byte
	for i := range cus {
		cu := &cus[i]
		stmt := len(line)
		line = appendLineProgram(line, cu)
		start := len(info)
		info = append(info, 0, 0, 0, 0) // unit_length, patched below
		info = binary.LittleEndian.AppendUint16(info, 4)
		info = binary.LittleEndian.AppendUint32(info, 0) // abbrev offset
		info = append(info, 4)                           // address size
		if len(cu.ranges) == 1 {
			info = append(info, abbrevLowHigh)
		} else {
			info = append(info, abbrevRanges)
		}
		info = append(append(info, cu.name...), 0)
		info = binary.LittleEndian.AppendUint32(info, uint32(stmt))
		if len(cu.ranges) == 1 {
			r := cu.ranges[0]
			info = binary.LittleEndian.AppendUint32(info, uint32(r[0]))
			info = binary.LittleEndian.AppendUint32(info, uint32(r[1]-r[0]))
		} else {
			info = binary.LittleEndian.AppendUint32(info, 0) // base address
			info = binary.LittleEndian.AppendUint32(info, uint32(len(ranges)))
			for _, r := range cu.ranges {
				ranges = binary.LittleEndian.AppendUint32(ranges, uint32(r[0]))
				ranges = binary.LittleEndian.AppendUint32(ranges, uint32(r[1]))
			}
			ranges = append(ranges, 0, 0, 0, 0, 0, 0, 0, 0)
		}
		binary.LittleEndian.PutUint32(info[start:], uint32(len(info)-start-4))
	}
	out := []wasm.Section{
		{ID: wasm.SectionCustom, Name: ".debug_abbrev", Payload: abbrev},
		{ID: wasm.SectionCustom, Name: ".debug_info", Payload: info},
		{ID: wasm.SectionCustom, Name: ".debug_line", Payload: line},
	}
	if len(ranges) > 0 {
		out = append(out, wasm.Section{ID: wasm.SectionCustom, Name: ".debug_ranges", Payload: ranges})
	}
	return out
}

// appendLineProgram appends one DWARF 4 line number program: a header with
// the unit's files (already resolved, so no include directories) and the
// rows, sequence by sequence.
func appendLineProgram(dst []byte, cu *cuLines) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0) // unit_length
	dst = binary.LittleEndian.AppendUint16(dst, 4)
	hdr := len(dst)
	dst = append(dst, 0, 0, 0, 0)            // header_length
	dst = append(dst, 1, 1, 1, 0xfb, 14, 13) // min_inst, max_ops, default_is_stmt, line_base -5, line_range, opcode_base
	dst = append(dst, 0, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1)
	dst = append(dst, 0) // no include directories
	for _, f := range cu.files {
		dst = append(append(dst, f...), 0, 0, 0, 0) // name, dir 0, mtime, length
	}
	dst = append(dst, 0)
	binary.LittleEndian.PutUint32(dst[hdr:], uint32(len(dst)-hdr-4))

	var st lineRow
	fresh := true
	for _, r := range cu.rows {
		if fresh || r.addr < st.addr {
			dst = append(dst, 0, 5, dwLneSetAddress)
			dst = binary.LittleEndian.AppendUint32(dst, uint32(r.addr))
			if fresh {
				st = lineRow{addr: r.addr, file: 1, line: 1, isStmt: true}
			}
			st.addr, fresh = r.addr, false
		} else if r.addr > st.addr {
			dst = append(dst, dwLnsAdvancePC)
			dst = wasm.AppendU32(dst, uint32(r.addr-st.addr))
			st.addr = r.addr
		}
		dst = appendRowState(dst, &st, r)
		if r.end {
			dst = append(dst, 0, 1, dwLneEndSeq)
			fresh = true
		} else {
			dst = append(dst, dwLnsCopy)
		}
	}
	binary.LittleEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}

// appendRowState emits the opcodes that move the state machine's file,
// line, column and is_stmt to the row's.
func appendRowState(dst []byte, st *lineRow, r lineRow) []byte {
	if r.file != st.file {
		dst = append(dst, dwLnsSetFile)
		dst = wasm.AppendU32(dst, uint32(r.file))
	}
	if r.column != st.column {
		dst = append(dst, dwLnsSetColumn)
		dst = wasm.AppendU32(dst, uint32(r.column))
	}
	if r.line != st.line {
		dst = append(dst, dwLnsAdvLine)
		dst = wasm.AppendS64(dst, int64(r.line-st.line))
	}
	if r.isStmt != st.isStmt {
		dst = append(dst, dwLnsNegateStmt)
	}
	st.file, st.column, st.line, st.isStmt = r.file, r.column, r.line, r.isStmt
	return dst
}
