package fuel

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// specValue is an argument or expected result in wast2json's format.
type specValue struct {
	Type     string          `json:"type"`
	LaneType string          `json:"lane_type"`
	Value    json.RawMessage `json:"value"`
}

// lanes returns the value as strings: one for scalars, one per lane for
// v128, none when the value is absent (any reference).
func (v specValue) lanes() ([]string, error) {
	if len(v.Value) == 0 {
		return nil, nil
	}
	if v.Type == "v128" {
		var s []string
		err := json.Unmarshal(v.Value, &s)
		return s, err
	}
	var s string
	err := json.Unmarshal(v.Value, &s)
	return []string{s}, err
}

// laneBits is the width of each lane of a v128 value.
func laneBits(laneType string) (int, error) {
	switch laneType {
	case "i8":
		return 8, nil
	case "i16":
		return 16, nil
	case "i32", "f32":
		return 32, nil
	case "i64", "f64":
		return 64, nil
	}
	return 0, fmt.Errorf("unknown lane type %q", laneType)
}

// parseBits parses an integer or float bit pattern of the given width.
func parseBits(s string, bits int) (uint64, error) {
	if strings.HasPrefix(s, "-") {
		v, err := strconv.ParseInt(s, 10, bits)
		return uint64(v) & (math.MaxUint64 >> (64 - bits)), err
	}
	return strconv.ParseUint(s, 10, bits)
}

// encode turns an argument into wazero's uint64 stack values: two for
// v128 (low lanes first).
func (v specValue) encode() ([]uint64, error) {
	ls, err := v.lanes()
	if err != nil {
		return nil, err
	}
	switch v.Type {
	case "i32", "f32":
		x, err := parseBits(ls[0], 32)
		return []uint64{x}, err
	case "i64", "f64":
		x, err := parseBits(ls[0], 64)
		return []uint64{x}, err
	case "funcref", "externref":
		if len(ls) == 0 || ls[0] == "null" {
			return []uint64{0}, nil
		}
		// wazero's references are opaque and 0 is null, so host
		// reference n travels as n+1.
		x, err := strconv.ParseUint(ls[0], 10, 64)
		return []uint64{x + 1}, err
	case "v128":
		w, err := laneBits(v.LaneType)
		if err != nil {
			return nil, err
		}
		var out [2]uint64
		for i, l := range ls {
			x, err := parseBits(l, w)
			if err != nil {
				return nil, err
			}
			bit := i * w
			out[bit/64] |= x << (bit % 64)
		}
		return out[:], nil
	}
	return nil, fmt.Errorf("unknown value type %q", v.Type)
}

// width is how many uint64 stack values the value takes.
func (v specValue) width() int {
	if v.Type == "v128" {
		return 2
	}
	return 1
}

// matchNaN checks a float of the given width against nan:canonical or
// nan:arithmetic.
func matchNaN(bits uint64, w int, want string) bool {
	var sign, quiet uint64
	if w == 32 {
		bits &= math.MaxUint32
		sign, quiet = 1<<31, 0x7fc00000
	} else {
		sign, quiet = 1<<63, 0x7ff8000000000000
	}
	if want == "nan:canonical" {
		return bits&^sign == quiet
	}
	return bits&quiet == quiet
}

// matchScalar checks one value of width w bits against its expectation.
func matchScalar(got uint64, w int, float bool, want string) (bool, error) {
	if float && strings.HasPrefix(want, "nan:") {
		return matchNaN(got, w, want), nil
	}
	x, err := parseBits(want, w)
	if w < 64 {
		got &= 1<<w - 1
	}
	return got == x, err
}

// match checks results (as wazero returns them) against expectations.
func match(results []uint64, exp []specValue) (bool, error) {
	n := 0
	for _, e := range exp {
		n += e.width()
	}
	if n != len(results) {
		return false, nil
	}
	i := 0
	for _, e := range exp {
		ok, err := matchOne(results[i:i+e.width()], e)
		if err != nil || !ok {
			return false, err
		}
		i += e.width()
	}
	return true, nil
}

func matchOne(got []uint64, e specValue) (bool, error) {
	ls, err := e.lanes()
	if err != nil {
		return false, err
	}
	switch e.Type {
	case "i32", "i64", "f32", "f64":
		w := 32
		if strings.HasSuffix(e.Type, "64") {
			w = 64
		}
		return matchScalar(got[0], w, e.Type[0] == 'f', ls[0])
	case "funcref", "externref":
		if len(ls) == 0 { // any non-null reference
			return got[0] != 0, nil
		}
		want, err := e.encode()
		return err == nil && got[0] == want[0], err
	case "v128":
		w, err := laneBits(e.LaneType)
		if err != nil {
			return false, err
		}
		for i, l := range ls {
			bit := i * w
			lane := got[bit/64] >> (bit % 64)
			ok, err := matchScalar(lane, w, e.LaneType[0] == 'f', l)
			if err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	}
	return false, fmt.Errorf("unknown value type %q", e.Type)
}

// trapText maps the spec's trap messages to wazero's where they differ.
func trapMatches(err error, text string) bool {
	if err == nil {
		return false
	}
	msg := firstLine(err)
	switch {
	case strings.HasPrefix(text, "uninitialized element"), text == "undefined element",
		text == "out of bounds table access", text == "undefined":
		return strings.Contains(msg, "invalid table access")
	case text == "call stack exhausted":
		return strings.Contains(msg, "stack overflow")
	}
	return strings.Contains(msg, text)
}
