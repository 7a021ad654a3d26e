package httpwire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	req := Request{Method: "POST", Target: "https://example.com/a?b=c",
		Header: []Field{{"Host", "example.com"}, {"X-A", "1"}, {"X-A", "2"}, {"Empty", ""}}, Body: []byte("body\x00bytes")}
	enc := AppendRequest(nil, &req)
	if len(enc) != RequestSize(&req) {
		t.Errorf("RequestSize %d, encoding %d", RequestSize(&req), len(enc))
	}
	got, err := ParseRequest(enc)
	if err != nil || !reflect.DeepEqual(got, req) {
		t.Fatalf("ParseRequest: %+v, %v", got, err)
	}
	resp := Response{Status: 404, Header: []Field{{"Content-Type", "text/plain"}}, Body: []byte("no")}
	enc = AppendResponse([]byte("prefix"), &resp)[6:]
	if len(enc) != ResponseSize(&resp) {
		t.Errorf("ResponseSize %d, encoding %d", ResponseSize(&resp), len(enc))
	}
	gr, err := ParseResponse(enc)
	if err != nil || !reflect.DeepEqual(gr, resp) {
		t.Fatalf("ParseResponse: %+v, %v", gr, err)
	}
	// No headers and no body decode as nil, not empty slices.
	gr, err = ParseResponse(AppendResponse(nil, &Response{Status: 204}))
	if err != nil || gr.Header != nil || gr.Body != nil || gr.Status != 204 {
		t.Fatalf("empty response: %+v, %v", gr, err)
	}
}

// The exact bytes, so the documentation and the C SDK can be checked
// against them.
func TestLayout(t *testing.T) {
	t.Parallel()
	enc := AppendRequest(nil, &Request{Method: "GET", Target: "/x", Header: []Field{{"A", "b"}}, Body: []byte("!")})
	want := []byte{3, 0, 0, 0, 'G', 'E', 'T', 2, 0, 0, 0, '/', 'x', 1, 0, 0, 0, 1, 0, 0, 0, 'A', 1, 0, 0, 0, 'b', '!'}
	if !bytes.Equal(enc, want) {
		t.Fatalf("request encoding\n got %v\nwant %v", enc, want)
	}
	enc = AppendResponse(nil, &Response{Status: 200})
	if !bytes.Equal(enc, []byte{200, 0, 0, 0, 0, 0, 0, 0}) {
		t.Fatalf("response encoding %v", enc)
	}
	if Tag != binary.BigEndian.Uint32([]byte("HTTP")) {
		t.Fatalf("Tag %#x is not \"HTTP\"", Tag)
	}
}

func TestMalformed(t *testing.T) {
	t.Parallel()
	enc := AppendRequest(nil, &Request{Method: "GET", Target: "/", Header: []Field{{"A", "b"}}})
	// Every cut inside the head is refused.
	for i := range len(enc) {
		if _, err := ParseRequest(enc[:i]); !errors.Is(err, ErrMalformed) {
			t.Errorf("request cut at %d of %d: %v", i, len(enc), err)
		}
	}
	// A header count the payload cannot hold is refused before any
	// allocation for it.
	huge := binary.LittleEndian.AppendUint32(nil, 200)
	huge = binary.LittleEndian.AppendUint32(huge, 0xFFFFFFFF)
	if _, err := ParseResponse(huge); !errors.Is(err, ErrMalformed) {
		t.Errorf("huge count: %v", err)
	}
	// A string length past the end.
	bad := binary.LittleEndian.AppendUint32(nil, 0xFFFFFFF0)
	if _, err := ParseRequest(bad); !errors.Is(err, ErrMalformed) {
		t.Errorf("long string: %v", err)
	}
}

func TestValid(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"GET", "M-SEARCH", "x~!"} {
		if !ValidMethod(s) {
			t.Errorf("ValidMethod(%q) = false", s)
		}
	}
	for _, s := range []string{"", "GE T", "GET\r\n", "G(ET)", "ü"} {
		if ValidMethod(s) {
			t.Errorf("ValidMethod(%q) = true", s)
		}
	}
	for _, s := range []string{"", "a b\tc", "ünïcode", `"quoted"`} {
		if !ValidValue(s) {
			t.Errorf("ValidValue(%q) = false", s)
		}
	}
	for _, s := range []string{"a\r\nX-Evil: 1", "a\nb", "nul\x00", "del\x7f"} {
		if ValidValue(s) {
			t.Errorf("ValidValue(%q) = true", s)
		}
	}
	if err := Check([]Field{{"Ok", "fine"}, {"Bad Name", "x"}}); err == nil {
		t.Error("Check passed a name with a space")
	}
}

func FuzzParse(f *testing.F) {
	f.Add(AppendRequest(nil, &Request{Method: "GET", Target: "/", Header: []Field{{"A", "b"}}, Body: []byte("x")}))
	f.Add(AppendResponse(nil, &Response{Status: 200, Header: []Field{{"A", "b"}}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := ParseRequest(b); err == nil {
			if again := AppendRequest(nil, &r); !bytes.Equal(again, b) {
				t.Errorf("request re-encodes differently")
			}
		}
		if r, err := ParseResponse(b); err == nil {
			if again := AppendResponse(nil, &r); !bytes.Equal(again, b) {
				t.Errorf("response re-encodes differently")
			}
		}
	})
}
