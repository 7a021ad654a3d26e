package wasm

import "errors"

// LEB128 errors. They use the spec interpreter's wording so that messages
// match what wazero and wast files say for the same malformed input.
var (
	// ErrUnexpectedEnd means the input ended in the middle of a value.
	ErrUnexpectedEnd = errors.New("unexpected end")
	// ErrIntTooLong means a LEB128 value used more bytes than its type allows.
	ErrIntTooLong = errors.New("integer representation too long")
	// ErrIntTooLarge means the last byte of a LEB128 value had bits set that
	// do not fit its type.
	ErrIntTooLarge = errors.New("integer too large")
)

// ReadU32 decodes an unsigned 32-bit LEB128 value at b[p:]. It returns the
// value and the position just after it.
func ReadU32(b []byte, p int) (uint32, int, error) {
	if p < len(b) && b[p] < 0x80 { // fast path: one byte
		return uint32(b[p]), p + 1, nil
	}
	var v uint32
	for i := 0; i < 5; i++ {
		if p >= len(b) {
			return 0, p, ErrUnexpectedEnd
		}
		c := b[p]
		p++
		if i == 4 {
			if c&0x80 != 0 {
				return 0, p, ErrIntTooLong
			}
			if c&0x70 != 0 {
				return 0, p, ErrIntTooLarge
			}
		}
		v |= uint32(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			return v, p, nil
		}
	}
	return 0, p, ErrIntTooLong // unreachable: the loop returns on i == 4
}

// readSigned decodes a signed LEB128 value of the given bit width (32, 33 or
// 64) at b[p:].
func readSigned(b []byte, p int, bits uint) (int64, int, error) {
	maxLen := int((bits + 6) / 7)
	var v int64
	var shift uint
	for i := 0; i < maxLen; i++ {
		if p >= len(b) {
			return 0, p, ErrUnexpectedEnd
		}
		c := b[p]
		p++
		if i == maxLen-1 {
			if c&0x80 != 0 {
				return 0, p, ErrIntTooLong
			}
			// The unused high bits of the last byte must all equal the sign bit.
			used := bits - shift // value bits carried by this byte, 1..7
			if used < 7 {
				// Bits used-1 (the sign) up to 6 of c, sign-extended.
				rest := int8(c<<1) >> used
				if rest != 0 && rest != -1 {
					return 0, p, ErrIntTooLarge
				}
			}
		}
		v |= int64(c&0x7f) << shift
		shift += 7
		if c&0x80 == 0 {
			if shift < 64 && c&0x40 != 0 {
				v |= -1 << shift
			}
			return v, p, nil
		}
	}
	return 0, p, ErrIntTooLong
}

// ReadS32 decodes a signed 32-bit LEB128 value at b[p:].
func ReadS32(b []byte, p int) (int32, int, error) {
	v, p, err := readSigned(b, p, 32)
	return int32(v), p, err
}

// ReadS33 decodes a signed 33-bit LEB128 value (a block type) at b[p:].
func ReadS33(b []byte, p int) (int64, int, error) { return readSigned(b, p, 33) }

// ReadS64 decodes a signed 64-bit LEB128 value at b[p:].
func ReadS64(b []byte, p int) (int64, int, error) { return readSigned(b, p, 64) }

// AppendU32 appends the shortest LEB128 encoding of v.
func AppendU32(dst []byte, v uint32) []byte {
	for v >= 0x80 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

// AppendU32Width appends v as LEB128 using at least width bytes (at most 5),
// padding with continuation bytes. Rewriters use it to keep an immediate or
// a size field as wide as it was, so that the bytes around it do not move.
func AppendU32Width(dst []byte, v uint32, width int) []byte {
	n := U32Len(v)
	if width < n {
		width = n
	}
	if width > 5 {
		width = 5
	}
	for i := 0; i < width-1; i++ {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

// U32Len is the length of the shortest LEB128 encoding of v.
func U32Len(v uint32) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// AppendS64 appends the shortest signed LEB128 encoding of v. It also
// encodes 32- and 33-bit signed values.
func AppendS64(dst []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(dst, c)
		}
		dst = append(dst, c|0x80)
	}
}
