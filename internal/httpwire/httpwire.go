// Package httpwire is the binary encoding of HTTP requests and responses
// that crosses the isle ABI: a guest's egress request and the host's
// answer (http_request), and an ingress request message and the guest's
// reply (ISLE_TAG_HTTP). docs/ABI.md, section "HTTP", is the reference.
//
// Every length is a little-endian u32, and the body is the rest of the
// payload, so an encoder can append it without knowing its length first:
//
//	request:  str method, str target, u32 n, n × (str name, str value), body
//	response: u32 status, u32 n, n × (str name, str value), body
//	str:      u32 length, then that many bytes
//
// The package has no dependency on net/http, so that the guest SDK can
// use it without linking net/http into every Go guest.
package httpwire

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Tag is the message tag of an ingress request and of its reply: "HTTP"
// in ASCII, read as a big-endian u32.
const Tag uint32 = 0x48545450

// Field is one header line. Repeated headers are repeated fields, in
// order.
type Field struct {
	Name, Value string
}

// Request is an HTTP request. Target is an absolute URL for egress
// ("https://example.com/a?b") and the request target as received for
// ingress ("/a?b").
type Request struct {
	Method string
	Target string
	Header []Field
	Body   []byte
}

// Response is an HTTP response.
type Response struct {
	Status int
	Header []Field
	Body   []byte
}

// ErrMalformed is returned for a payload that is not a valid encoding.
var ErrMalformed = errors.New("malformed HTTP encoding")

// AppendRequest appends r's encoding to dst.
func AppendRequest(dst []byte, r *Request) []byte {
	dst = appendString(dst, r.Method)
	dst = appendString(dst, r.Target)
	dst = appendFields(dst, r.Header)
	return append(dst, r.Body...)
}

// AppendResponse appends r's encoding to dst.
func AppendResponse(dst []byte, r *Response) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(r.Status))
	dst = appendFields(dst, r.Header)
	return append(dst, r.Body...)
}

// RequestSize is the length of r's encoding.
func RequestSize(r *Request) int {
	return 8 + len(r.Method) + len(r.Target) + fieldsSize(r.Header) + len(r.Body)
}

// ResponseSize is the length of r's encoding.
func ResponseSize(r *Response) int { return 4 + fieldsSize(r.Header) + len(r.Body) }

func fieldsSize(h []Field) int {
	n := 4
	for _, f := range h {
		n += 8 + len(f.Name) + len(f.Value)
	}
	return n
}

func appendString(dst []byte, s string) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(s)))
	return append(dst, s...)
}

func appendFields(dst []byte, h []Field) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(h)))
	for _, f := range h {
		dst = appendString(dst, f.Name)
		dst = appendString(dst, f.Value)
	}
	return dst
}

// ParseRequest decodes a request. Body aliases b.
func ParseRequest(b []byte) (Request, error) {
	d := decoder{b: b}
	r := Request{Method: d.str(), Target: d.str()}
	r.Header = d.fields()
	if d.err != nil {
		return Request{}, d.err
	}
	r.Body = d.rest()
	return r, nil
}

// ParseResponse decodes a response. Body aliases b.
func ParseResponse(b []byte) (Response, error) {
	d := decoder{b: b}
	r := Response{Status: int(d.u32())}
	r.Header = d.fields()
	if d.err != nil {
		return Response{}, d.err
	}
	r.Body = d.rest()
	return r, nil
}

// decoder reads the encoding, remembering the first error so callers can
// check once at the end.
type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s at byte %d of %d", ErrMalformed, what, d.off, len(d.b))
	}
}

func (d *decoder) u32() uint32 {
	if d.err != nil {
		return 0
	}
	if len(d.b)-d.off < 4 {
		d.fail("truncated length")
		return 0
	}
	v := binary.LittleEndian.Uint32(d.b[d.off:])
	d.off += 4
	return v
}

func (d *decoder) str() string {
	n := d.u32()
	if d.err != nil {
		return ""
	}
	if uint64(n) > uint64(len(d.b)-d.off) {
		d.fail(fmt.Sprintf("string of %d bytes runs past the end", n))
		return ""
	}
	s := string(d.b[d.off : d.off+int(n)])
	d.off += int(n)
	return s
}

func (d *decoder) fields() []Field {
	n := d.u32()
	// Each field takes at least 8 bytes, so a count the payload cannot
	// hold is refused before anything is allocated for it.
	if d.err == nil && uint64(n)*8 > uint64(len(d.b)-d.off) {
		d.fail(fmt.Sprintf("%d header fields cannot fit", n))
	}
	if d.err != nil || n == 0 {
		return nil
	}
	h := make([]Field, n)
	for i := range h {
		h[i] = Field{Name: d.str(), Value: d.str()}
	}
	return h
}

func (d *decoder) rest() []byte {
	if d.off == len(d.b) {
		return nil
	}
	return d.b[d.off:]
}

// ValidMethod reports whether m is an HTTP token, as a method must be.
func ValidMethod(m string) bool { return validToken(m) }

// ValidName reports whether s is a valid header field name: a non-empty
// HTTP token.
func ValidName(s string) bool { return validToken(s) }

// ValidValue reports whether s can be a header field value: no control
// character but tab, so that no value can split one header into two.
func ValidValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// Check reports the first header field whose name or value is not
// valid, or nil.
func Check(h []Field) error {
	for _, f := range h {
		if !ValidName(f.Name) {
			return fmt.Errorf("header name %q is not an HTTP token", f.Name)
		}
		if !ValidValue(f.Value) {
			return fmt.Errorf("header %s: value %q contains a control character", f.Name, f.Value)
		}
	}
	return nil
}

func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return true
}

// isTokenChar reports whether c may appear in an HTTP token (RFC 9110,
// section 5.6.2).
func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}
