package isle_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/testwasm"
)

// countedServer is an httptest server that counts the connections it
// accepts, so a test can tell that a refused request never reached it.
type countedServer struct {
	*httptest.Server
	conns atomic.Int32
}

func newCountedServer(t *testing.T, h http.Handler) *countedServer {
	s := &countedServer{Server: httptest.NewUnstartedServer(h)}
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// bigBody is the 3,000,000-byte body upstream serves at /big: longer than
// any first buffer, shorter than the 16 MiB limit.
var bigBody = func() []byte {
	b := make([]byte, 3_000_000)
	for i := range b {
		b[i] = byte(i % 253)
	}
	return b
}()

func byteSum(b []byte) uint32 {
	var s uint32
	for _, c := range b {
		s += uint32(c)
	}
	return s
}

// upstream is the allowed server of the egress tests; offList is where
// its /redirect points.
func upstream(t *testing.T, offList string) *countedServer {
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("X-Test", "yes")
		w.Header().Set("X-Got-Host", r.Host)
		w.Header().Set("X-Got-Guest", r.Header.Get("X-Guest"))
		io.WriteString(w, "hi there")
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, offList+"/stolen", http.StatusFound)
	})
	mux.HandleFunc("/redirect-ok", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/hello", http.StatusFound)
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) { w.Write(bigBody) })
	mux.HandleFunc("POST /post", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, "got %s", b)
	})
	return newCountedServer(t, mux)
}

func offListServer(t *testing.T) *countedServer {
	return newCountedServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "you should not see this")
	}))
}

// runOut spawns mod as a command with g, waits, and returns its output.
func runOut(t *testing.T, node *isle.Node, mod *isle.Module, g isle.Grants) (api.Exit, string) {
	t.Helper()
	var out syncBuffer
	g.Stdout, g.Stderr = &out, &out
	exit := run(t, node, mod, g, isle.Limits{})
	return exit, out.String()
}

func wantLines(t *testing.T, out string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !strings.Contains(out, l+"\n") {
			t.Errorf("no line %q in output:\n%s", l, out)
		}
	}
}

func TestHTTPEgressAllowlistC(t *testing.T) {
	t.Parallel()
	off := offListServer(t)
	up := upstream(t, off.URL)
	node := newNode(t)
	mod := load(t, node, testwasm.C(t, "testdata/c/httpget.c", "-O2"))
	exit, out := runOut(t, node, mod, isle.Grants{
		Args: []string{"httpget", "net",
			"GET", up.URL + "/hello", "",
			"GET", off.URL + "/x", "",
			"GET", up.URL + "/redirect", "",
			"GET", up.URL + "/redirect-ok", "",
			"GET", up.URL + "/big", "",
			"POST", up.URL + "/post", "data",
			"GET", "ftp://" + up.Listener.Addr().String() + "/", "",
		},
		Caps: map[string]isle.Capability{"net": isle.HTTPCap(up.URL)},
	})
	if !exit.Normal() {
		t.Fatalf("exit %v\n%s", exit, out)
	}
	host := strings.TrimPrefix(up.URL, "http://")
	want := []string{
		"status=200 len=8 sum=" + fmt.Sprint(byteSum([]byte("hi there"))),
		"h Content-Type: text/plain",
		"h X-Test: yes",
		"h X-Got-Host: " + host, // the guest's own Host header is ignored
		"h X-Got-Guest: httpget",
		"body=hi there",
		fmt.Sprintf("status=200 len=%d sum=%d", len(bigBody), byteSum(bigBody)),
		"status=201 len=8 sum=" + fmt.Sprint(byteSum([]byte("got data"))),
		"body=got data",
	}
	wantLines(t, out, want...)
	// Off the list, a redirect off the list and another scheme: denied.
	if n := strings.Count(out, "error=-10\n"); n != 3 {
		t.Errorf("%d requests denied, want 3:\n%s", n, out)
	}
	// The redirect to /hello on the same origin was followed.
	if n := strings.Count(out, "body=hi there\n"); n != 2 {
		t.Errorf("%d /hello bodies, want 2 (one through a redirect):\n%s", n, out)
	}
	if n := off.conns.Load(); n != 0 {
		t.Errorf("the off-list server saw %d connections, want none", n)
	}
}

func TestHTTPEgressWithoutCapability(t *testing.T) {
	t.Parallel()
	off := offListServer(t)
	node := newNode(t)
	mod := load(t, node, testwasm.C(t, "testdata/c/httpget.c", "-O2"))
	exit, out := runOut(t, node, mod, isle.Grants{Args: []string{"httpget", "net", "GET", off.URL, ""}})
	if !exit.Normal() || out != "grant=-8\n" {
		t.Fatalf("without a grant: %v %q", exit, out)
	}
	// A handle of another kind is not an HTTP capability: misuse.
	exit, out = runOut(t, node, mod, isle.Grants{
		Args: []string{"httpget", "clock", "GET", off.URL, ""},
		Caps: map[string]isle.Capability{"clock": isle.ClockCap(api.RightMonotonic)},
	})
	if exit.Kind != api.ExitAbandoned || exit.Abandon.Cause != api.CauseMisuse ||
		!strings.Contains(exit.Abandon.Detail, "http_request: handle") {
		t.Fatalf("clock handle used for HTTP: %v\n%s", exit, out)
	}
	if n := off.conns.Load(); n != 0 {
		t.Errorf("the server saw %d connections, want none", n)
	}
}

func TestHTTPCapRejectsBadOrigins(t *testing.T) {
	t.Parallel()
	node := newNode(t)
	mod := load(t, node, testwasm.C(t, "testdata/c/httpget.c", "-O2"))
	for _, o := range []string{"example.com", "ftp://example.com", "https://*.example.com", "https://example.com/path", "http://user@example.com", "http://example.com:99999"} {
		_, err := node.Spawn(context.Background(), mod, isle.Grants{
			Caps: map[string]isle.Capability{"net": isle.HTTPCap(o)},
		}, isle.Limits{})
		if err == nil || !strings.Contains(err.Error(), `grant "net": origin "`+o+`"`) {
			t.Errorf("HTTPCap(%q): spawn error %v", o, err)
		}
	}
}

// A request in flight ends when the process is killed. The server holds
// the request until the client goes away, so only the kill can end it.
func TestHTTPEgressKillInterrupts(t *testing.T) {
	t.Parallel()
	arrived := make(chan struct{}, 1)
	hang := newCountedServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-r.Context().Done()
	}))
	node := newNode(t)
	mod := load(t, node, testwasm.C(t, "testdata/c/httpget.c", "-O2"))
	p, err := node.Spawn(context.Background(), mod, isle.Grants{
		Args: []string{"httpget", "net", "GET", hang.URL, ""},
		Caps: map[string]isle.Capability{"net": isle.HTTPCap(hang.URL)},
	}, isle.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	testwasm.Await(t, arrived, "the guest's request to reach the server")
	p.Kill()
	exit, err := p.Wait(testwasm.Context(t))
	if err != nil || exit.Kind != api.ExitKilled {
		t.Fatalf("exit %v, %v", exit, err)
	}
}

func TestHTTPEgressGo(t *testing.T) {
	t.Parallel()
	off := offListServer(t)
	up := upstream(t, off.URL)
	node := sdkNode(t)
	mod := load(t, node, testwasm.Go(t, "testdata/go/httpclient"))
	exit, out := runOut(t, node, mod, isle.Grants{
		Args: []string{"httpclient", "net", up.URL + "/hello", off.URL + "/", up.URL + "/redirect", up.URL + "/big"},
		Caps: map[string]isle.Capability{"net": isle.HTTPCap(up.URL)},
	})
	if !exit.Normal() {
		t.Fatalf("exit %v\n%s", exit, out)
	}
	wantLines(t, out,
		"status=200 len=8 sum="+fmt.Sprint(byteSum([]byte("hi there")))+" type=text/plain",
		"body=hi there",
		fmt.Sprintf("status=200 len=%d sum=%d type=application/octet-stream", len(bigBody), byteSum(bigBody)),
		"body=got ping",
	)
	if n := strings.Count(out, "denied\n"); n != 2 {
		t.Errorf("%d denied, want 2:\n%s", n, out)
	}
	if n := off.conns.Load(); n != 0 {
		t.Errorf("the off-list server saw %d connections", n)
	}
	exit, out = runOut(t, node, mod, isle.Grants{Args: []string{"httpclient", "net", up.URL}})
	if !exit.Normal() || !strings.Contains(out, "client: ") || !strings.Contains(out, "true") {
		t.Fatalf("without the grant: %v\n%s", exit, out)
	}
}

// serve spawns mod with g and serves it on an httptest server.
func serve(t *testing.T, node *isle.Node, mod *isle.Module, g isle.Grants) (*isle.Process, *isle.HTTPIngress, *httptest.Server) {
	t.Helper()
	p, err := node.Spawn(context.Background(), mod, g, isle.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	h := isle.HTTPHandler(p)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return p, h, srv
}

func do(t *testing.T, method, url, body string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestHTTPIngressC(t *testing.T) {
	t.Parallel()
	node := newNode(t)
	mod := load(t, node, reactor(t, "testdata/c/httpfn.c"))
	p, h, srv := serve(t, node, mod, isle.Grants{})

	resp, body := do(t, "POST", srv.URL+"/path/x?q=1&r=2", "world", "X-Echo", "a", "X-Echo", "b")
	if resp.StatusCode != 201 || body != "hello world" {
		t.Fatalf("POST: %d %q", resp.StatusCode, body)
	}
	want := map[string]string{"X-Method": "POST", "X-Target": "/path/x?q=1&r=2", "X-Host": srv.Listener.Addr().String(),
		"Content-Type": "text/plain", "Content-Length": "11"}
	for k, v := range want {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	if got := resp.Header.Values("X-Echo-Back"); len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Errorf("X-Echo-Back: %q", got)
	}
	if resp.TransferEncoding != nil || resp.Header.Get("Transfer-Encoding") != "" {
		t.Errorf("the process's Transfer-Encoding reached the client: %v", resp.TransferEncoding)
	}

	if resp, _ := do(t, "GET", srv.URL+"/status/404", ""); resp.StatusCode != 404 {
		t.Errorf("/status/404: %d", resp.StatusCode)
	}
	if resp, body := do(t, "GET", srv.URL+"/status/99", ""); resp.StatusCode != 502 || !strings.Contains(body, "status 99") {
		t.Errorf("/status/99: %d %q", resp.StatusCode, body)
	}
	resp, body = do(t, "GET", srv.URL+"/big", "")
	if resp.StatusCode != 200 || len(body) != 300000 || body[250] != byte(250) || body[251] != 0 {
		t.Errorf("/big: %d, %d bytes", resp.StatusCode, len(body))
	}

	// Bodies up to the limit pass whole; over it, 413, with or without a
	// Content-Length.
	h.MaxBody = 1 << 20
	resp, body = do(t, "POST", srv.URL+"/sum", strings.Repeat("x", 1<<20))
	if want := fmt.Sprintf("%d %d", 1<<20, 'x'<<20); resp.StatusCode != 200 || body != want {
		t.Errorf("1 MiB body: %d %q, want %q", resp.StatusCode, body, want)
	}
	// Echoed, it is a reply over the message limit, which the process
	// learns and answers otherwise.
	if resp, body := do(t, "POST", srv.URL+"/", strings.Repeat("x", 1<<20)); resp.StatusCode != 500 || body != "reply too big" {
		t.Errorf("1 MiB echo: %d %q", resp.StatusCode, body)
	}
	if resp, _ := do(t, "POST", srv.URL+"/", strings.Repeat("x", 1<<20+1)); resp.StatusCode != 413 {
		t.Errorf("1 MiB + 1 body: %d", resp.StatusCode)
	}
	r, err := http.Post(srv.URL+"/", "text/plain", io.MultiReader(strings.NewReader(strings.Repeat("y", 1<<20)), strings.NewReader("yy")))
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != 413 {
		t.Errorf("chunked body over the limit: %d", r.StatusCode)
	}

	// A slow answer is a 504.
	h.Timeout = 200 * time.Millisecond
	if resp, _ := do(t, "GET", srv.URL+"/slow", ""); resp.StatusCode != 504 {
		t.Errorf("/slow: %d", resp.StatusCode)
	}
	h.Timeout = isle.DefaultHTTPTimeout

	// A process that dies handling a request: 502 for it and every later one.
	if resp, _ := do(t, "GET", srv.URL+"/die", ""); resp.StatusCode != 502 {
		t.Errorf("/die: %d", resp.StatusCode)
	}
	if exit, _ := p.Wait(context.Background()); exit.Kind != api.ExitAbandoned {
		t.Errorf("exit after /die: %v", exit)
	}
	if resp, _ := do(t, "GET", srv.URL+"/hello", ""); resp.StatusCode != 502 {
		t.Errorf("after the process died: %d", resp.StatusCode)
	}
}

// Many requests in flight to one reactor: each is handled once, and all
// succeed.
func TestHTTPIngressConcurrent(t *testing.T) {
	t.Parallel()
	node := newNode(t)
	mod := load(t, node, reactor(t, "testdata/c/httpfn.c"))
	_, _, srv := serve(t, node, mod, isle.Grants{})
	const clients, each = 16, 25
	var mu sync.Mutex
	seen := map[string]bool{}
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				body := fmt.Sprintf("%d-%d", c, i)
				resp, err := http.Post(srv.URL+"/c", "text/plain", strings.NewReader(body))
				if err != nil {
					t.Error(err)
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 201 || string(b) != "hello "+body {
					t.Errorf("%s: %d %q", body, resp.StatusCode, b)
				}
				mu.Lock()
				seen[resp.Header.Get("X-Count")] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != clients*each {
		t.Errorf("%d distinct request counts, want %d", len(seen), clients*each)
	}
}

// A process killed while requests wait on it: they get 502. It never
// answers /hang, so only the kill can end them.
func TestHTTPIngressKilledMidRequest(t *testing.T) {
	t.Parallel()
	node := newNode(t)
	mod := load(t, node, reactor(t, "testdata/c/httpfn.c"))
	p, _, srv := serve(t, node, mod, isle.Grants{})
	codes := make(chan int, 3)
	for range 3 {
		go func() {
			resp, err := http.Get(srv.URL + "/hang")
			if err != nil {
				codes <- 0
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	testwasm.WaitFor(t, "one request in its turn and two queued", func() bool { return p.Stats().Queued >= 2 })
	p.Kill()
	for range 3 {
		if c := testwasm.Await(t, codes, "a response after the kill"); c != 502 {
			t.Errorf("status %d, want 502", c)
		}
	}
}

func TestHTTPIngressGo(t *testing.T) {
	t.Parallel()
	off := offListServer(t)
	up := upstream(t, off.URL)
	node := sdkNode(t)
	mod := load(t, node, testwasm.Go(t, "testdata/go/httpfn", "-buildmode=c-shared"))
	p, _, srv := serve(t, node, mod, isle.Grants{Caps: map[string]isle.Capability{"net": isle.HTTPCap(up.URL)}})

	resp, body := do(t, "GET", srv.URL+"/hello?name=isle", "")
	if resp.StatusCode != 200 || body != "hello, isle" || resp.Header.Get("X-Lang") != "go" ||
		resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Errorf("/hello: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	resp, body = do(t, "PUT", srv.URL+"/echo", "some bytes", "X-Echo", "1", "X-Echo", "2")
	if resp.StatusCode != 202 || body != "some bytes" || resp.Header.Get("X-Method") != "PUT" ||
		resp.Header.Get("X-Host") != srv.Listener.Addr().String() || strings.Join(resp.Header.Values("X-Echo-Back"), ",") != "1,2" {
		t.Errorf("/echo: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	if resp, body := do(t, "GET", srv.URL+"/huge", ""); resp.StatusCode != 500 || !strings.Contains(body, "over the 1048576-byte message limit") {
		t.Errorf("/huge: %d %q", resp.StatusCode, body)
	}
	if resp, _ := do(t, "GET", srv.URL+"/nothing", ""); resp.StatusCode != 404 {
		t.Errorf("/nothing: %d", resp.StatusCode)
	}

	// From inside a turn, out through the reactor's own HTTP capability.
	resp, body = do(t, "GET", srv.URL+"/egress?url="+up.URL+"/hello", "")
	if resp.StatusCode != 200 || body != "hi there" {
		t.Errorf("/egress to the allowed server: %d %q", resp.StatusCode, body)
	}
	resp, body = do(t, "GET", srv.URL+"/egress?url="+off.URL+"/", "")
	if resp.StatusCode != 502 || !strings.Contains(body, "denied") || off.conns.Load() != 0 {
		t.Errorf("/egress off the list: %d %q, %d connections", resp.StatusCode, body, off.conns.Load())
	}

	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprint(i)
			resp, err := http.Get(srv.URL + "/hello?name=" + name)
			if err != nil {
				t.Error(err)
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != "hello, "+name {
				t.Errorf("concurrent %s: %d %q", name, resp.StatusCode, b)
			}
		}()
	}
	wg.Wait()

	if resp, _ := do(t, "GET", srv.URL+"/die", ""); resp.StatusCode != 502 {
		t.Errorf("/die: %d", resp.StatusCode)
	}
	exit, _ := p.Wait(context.Background())
	if exit.Kind != api.ExitAbandoned || exit.Abandon.Cause != api.CauseRuntimeAbort ||
		!strings.Contains(exit.Abandon.Detail, "panic: asked to die") {
		t.Errorf("exit after /die: %v; want the Go runtime's own reason", exit)
	}
}
