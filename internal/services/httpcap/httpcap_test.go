package httpcap

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/isle-run/isle/internal/httpwire"
	"github.com/isle-run/isle/internal/kernel"
	"github.com/isle-run/isle/internal/testwasm"
)

func TestOrigin(t *testing.T) {
	t.Parallel()
	good := map[string][2]string{
		"https://example.com":        {"https://example.com", "example.com:443"},
		"HTTPS://Example.COM/":       {"https://example.com", "example.com:443"},
		"https://example.com:443":    {"https://example.com", "example.com:443"},
		"http://example.com:80":      {"http://example.com", "example.com:80"},
		"http://example.com:443":     {"http://example.com:443", "example.com:443"},
		"http://127.0.0.1:8080":      {"http://127.0.0.1:8080", "127.0.0.1:8080"},
		"http://[::1]:8080":          {"http://[::1]:8080", "[::1]:8080"},
		"https://xn--exmple-cua.com": {"https://xn--exmple-cua.com", "xn--exmple-cua.com:443"},
	}
	for in, want := range good {
		o, addr, err := Origin(in)
		if err != nil || o != want[0] || addr != want[1] {
			t.Errorf("Origin(%q) = %q, %q, %v; want %q, %q", in, o, addr, err, want[0], want[1])
		}
	}
	bad := map[string]string{
		"example.com":                "want scheme://host",
		"ftp://example.com":          "neither http nor https",
		"https://*.example.com":      "wildcards",
		"https://example.com/api":    "no path",
		"https://example.com?x":      "no path, query",
		"https://u:p@example.com":    "no user",
		"http://example.com:0":       "not a port",
		"http://example.com:080":     "not a port",
		"http://example.com:70000":   "not a port",
		"https://exämple.com":        "punycode",
		"http://":                    "want scheme://host",
		"mailto:someone@example.com": "want scheme://host",
	}
	for in, want := range bad {
		if _, _, err := Origin(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Origin(%q): %v, want an error containing %q", in, err, want)
		}
	}
}

func TestAllowed(t *testing.T) {
	t.Parallel()
	c, err := New([]string{"https://example.com", "http://127.0.0.1:8080"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for in, want := range map[string]bool{
		"https://example.com/a/b?c":     true,
		"https://EXAMPLE.com:443/":      true,
		"https://user:pw@example.com/":  true, // credentials do not change the origin
		"http://example.com/":           false,
		"https://api.example.com/":      false,
		"https://example.com.evil.net/": false,
		"https://example.com:8443/":     false,
		"https://example.com./":         false, // not listed as such: refusing is safe
		"http://127.0.0.1:8080/x":       true,
		"http://127.0.0.1:8081/x":       false,
		"http://localhost:8080/":        false, // names are not resolved to decide
		"http://127.0.0.1:08080/":       false,
		"ftp://example.com/":            false,
	} {
		u, err := url.Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Allowed(u); got != want {
			t.Errorf("Allowed(%s) = %v, want %v", in, got, want)
		}
	}
	if _, err := New(nil); err == nil {
		t.Error("New with no origins succeeded")
	}
}

// counting serves h and counts the connections it accepts.
func counting(t *testing.T, h http.Handler) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	s := httptest.NewUnstartedServer(h)
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			n.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s, &n
}

func do(t *testing.T, c *Client, ctx context.Context, target string, timeout time.Duration) ([]byte, int, error) {
	t.Helper()
	req := &httpwire.Request{Method: "GET", Target: target}
	u, err := Check(req)
	if err != nil {
		t.Fatal(err)
	}
	return c.Do(ctx, req, u, timeout)
}

func TestDo(t *testing.T) {
	t.Parallel()
	off, offConns := counting(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	hung := make(chan struct{}, 1)
	var on *httptest.Server
	on, _ = counting(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/off":
			http.Redirect(w, r, off.URL, http.StatusTemporaryRedirect)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		case "/slow": // never answers: only a timeout or a cancel ends the request
			<-r.Context().Done()
		case "/hang":
			hung <- struct{}{}
			<-r.Context().Done()
		case "/huge":
			w.Header().Set("Content-Length", "17000000")
			w.WriteHeader(200)
			w.Write(make([]byte, 1<<20))
		case "/huge-chunked":
			for range 17 {
				w.Write(make([]byte, 1<<20))
			}
		default:
			w.Header().Add("B", "2")
			w.Header().Add("A", "1")
			w.Header().Add("A", "0")
			io.WriteString(w, "ok")
		}
	}))
	c, err := New([]string{on.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()

	b, status, err := do(t, c, ctx, on.URL+"/", -1)
	if err != nil || status != 200 {
		t.Fatalf("allowed: %d %v", status, err)
	}
	r, err := httpwire.ParseResponse(b)
	if err != nil || string(r.Body) != "ok" || r.Header[0] != (httpwire.Field{Name: "A", Value: "1"}) ||
		r.Header[1] != (httpwire.Field{Name: "A", Value: "0"}) {
		t.Errorf("response %+v, %v", r, err)
	}

	for _, target := range []string{off.URL + "/", on.URL + "/off"} {
		if _, _, err := do(t, c, ctx, target, -1); !errors.Is(err, kernel.ErrDenied) {
			t.Errorf("%s: %v, want ErrDenied", target, err)
		}
	}
	if n := offConns.Load(); n != 0 {
		t.Errorf("the off-list server saw %d connections", n)
	}
	if _, _, err := do(t, c, ctx, on.URL+"/loop", -1); !errors.Is(err, kernel.ErrIO) || !strings.Contains(err.Error(), "10 redirects") {
		t.Errorf("redirect loop: %v", err)
	}
	// The server never answers /slow, so only the timeout can end it
	// (else the test's deadline does, and the error says so).
	if _, _, err := do(t, c, testwasm.Context(t), on.URL+"/slow", 100*time.Millisecond); !errors.Is(err, kernel.ErrTimeout) {
		t.Errorf("slow: %v, want ErrTimeout", err)
	}
	cctx, cancel := context.WithCancel(testwasm.Context(t))
	go func() {
		<-hung // the request is in flight
		cancel()
	}()
	if _, _, err := do(t, c, cctx, on.URL+"/hang", -1); err == nil || errors.Is(err, kernel.ErrTimeout) || !errors.Is(cctx.Err(), context.Canceled) {
		t.Errorf("cancelled: %v, want a failure that is not a timeout", err)
	}
	for _, p := range []string{"/huge", "/huge-chunked"} {
		if _, _, err := do(t, c, ctx, on.URL+p, -1); !errors.Is(err, kernel.ErrTooBig) {
			t.Errorf("%s: %v, want ErrTooBig", p, err)
		}
	}
	// The dialer refuses an address off the list even if a request got
	// past the other checks.
	_, err = c.tr.DialContext(ctx, "tcp", off.Listener.Addr().String())
	if !errors.Is(err, kernel.ErrDenied) {
		t.Errorf("dial off the list: %v", err)
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	for _, req := range []httpwire.Request{
		{Method: "GE T", Target: "http://a/"},
		{Method: "GET", Target: "/relative"},
		{Method: "GET", Target: "http://a/", Header: []httpwire.Field{{Name: "X", Value: "a\r\nB: c"}}},
		{Method: "GET", Target: "http://a/%zz"},
	} {
		if _, err := Check(&req); err == nil {
			t.Errorf("Check(%+v) passed", req)
		}
	}
}
