package fuel

import (
	"debug/dwarf"
	"errors"
	"io"
	"sort"
	"strings"

	"github.com/isle-run/isle/internal/wasm"
)

// lineRow is one row of a line table, with its address already moved to
// the rewritten code section.
type lineRow struct {
	addr         uint64
	file         int // index into cuLines.files, from 1 as DWARF 4 counts
	line, column int
	isStmt, end  bool
}

// cuLines is what the rebuilt DWARF keeps of one compile unit.
type cuLines struct {
	name   string
	files  []string // resolved file names, as debug/dwarf reports them
	rows   []lineRow
	ranges [][2]uint64 // remapped address ranges of the unit
}

// rebuildDWARF reads the original DWARF and returns the custom sections
// that replace it: a minimal DWARF 4 with, per compile unit, its name, its
// remapped address ranges and its line table. It returns nothing when the
// original has no usable DWARF; stale debug sections are dropped either way.
func (mod *module) rebuildDWARF(om *OffsetMap) (out []wasm.Section) {
	// debug/dwarf is not hardened against every malformed input. Debug
	// information is optional, so a panic there costs only the DWARF.
	defer func() {
		if recover() != nil {
			out = nil
		}
	}()
	d, err := mod.readDWARF()
	if err != nil {
		return nil
	}
	codeLen := mod.codeLen
	var cus []cuLines
	r := d.Reader()
	for {
		e, err := r.Next()
		if err != nil || e == nil {
			break
		}
		if e.Tag == dwarf.TagCompileUnit {
			if cu, ok := readCU(d, e, om, codeLen); ok {
				cus = append(cus, cu)
			}
		}
		r.SkipChildren()
	}
	if len(cus) == 0 {
		return nil
	}
	return encodeDWARF(cus)
}

// readDWARF parses the original debug sections with debug/dwarf.
func (mod *module) readDWARF() (*dwarf.Data, error) {
	secs := map[string][]byte{}
	for _, s := range mod.m.Sections {
		if s.ID == wasm.SectionCustom && strings.HasPrefix(s.Name, ".debug_") {
			if _, dup := secs[s.Name]; !dup {
				secs[s.Name] = s.Payload
			}
		}
	}
	if secs[".debug_info"] == nil || secs[".debug_line"] == nil {
		return nil, errors.New("no line tables")
	}
	d, err := dwarf.New(secs[".debug_abbrev"], secs[".debug_aranges"], secs[".debug_frame"],
		secs[".debug_info"], secs[".debug_line"], secs[".debug_pubnames"],
		secs[".debug_ranges"], secs[".debug_str"])
	if err != nil {
		return nil, err
	}
	// DWARF 5 keeps strings, addresses and ranges in further sections.
	for _, name := range []string{".debug_addr", ".debug_line_str", ".debug_str_offsets", ".debug_rnglists"} {
		if b := secs[name]; b != nil {
			if err := d.AddSection(name, b); err != nil {
				return nil, err
			}
		}
	}
	return d, nil
}

// deadAddr reports addresses that lie outside the code section, such as
// the tombstones linkers write for functions they removed (0, -1, -2).
func deadAddr(a, codeLen uint64) bool { return a == 0 || a > codeLen }

// readCU reads one compile unit's line table and ranges, dropping dead
// sequences and moving every address through the offset map.
func readCU(d *dwarf.Data, cu *dwarf.Entry, om *OffsetMap, codeLen uint64) (cuLines, bool) {
	lr, err := d.LineReader(cu)
	if err != nil || lr == nil {
		return cuLines{}, false
	}
	out := cuLines{}
	out.name, _ = cu.Val(dwarf.AttrName).(string)
	fileIdx := map[string]int{}
	var le dwarf.LineEntry
	var seq []lineRow
	dead := false
	for {
		if err := lr.Next(&le); err != nil {
			if !errors.Is(err, io.EOF) {
				return cuLines{}, false
			}
			break
		}
		if len(seq) == 0 {
			dead = deadAddr(le.Address, codeLen)
		}
		name := ""
		if le.File != nil {
			name = le.File.Name
		}
		fi, ok := fileIdx[name]
		if !ok {
			out.files = append(out.files, name)
			fi = len(out.files)
			fileIdx[name] = fi
		}
		seq = append(seq, lineRow{addr: om.rewritten(le.Address), file: fi, line: le.Line,
			column: le.Column, isStmt: le.IsStmt, end: le.EndSequence})
		if le.EndSequence {
			if !dead {
				out.rows = append(out.rows, seq...)
			}
			seq = seq[:0]
		}
	}
	out.ranges = cuRanges(d, cu, out.rows, om, codeLen)
	return out, len(out.rows) > 0
}

// cuRanges moves the unit's own ranges through the offset map, so that
// units keep the same shape as in the original; without them, it uses the
// spans of the unit's line sequences.
func cuRanges(d *dwarf.Data, cu *dwarf.Entry, rows []lineRow, om *OffsetMap, codeLen uint64) [][2]uint64 {
	var out [][2]uint64
	if rs, err := d.Ranges(cu); err == nil {
		for _, r := range rs {
			if !deadAddr(r[0], codeLen) && r[1] > r[0] && r[1] <= codeLen {
				out = append(out, [2]uint64{om.rewritten(r[0]), om.rewritten(r[1])})
			}
		}
	}
	if len(out) == 0 {
		start := 0
		for i, r := range rows {
			if r.end {
				out = append(out, [2]uint64{rows[start].addr, r.addr})
				start = i + 1
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}
