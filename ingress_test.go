package isle_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/internal/testwasm"
)

// 300 clients upload 1 MiB each, at once, to a process that never takes a
// message: the uploads that fit its mailbox's 16 MiB wait, the rest get 503
// at once, and the node holds about one mailbox's worth of memory, not
// 300 bodies.
func TestHTTPIngressBodiesCountAgainstTheMailbox(t *testing.T) {
	ctx := testCtx(t)
	node := newNode(t)
	victim, h, srv := serve(t, node, load(t, node, testwasm.WAT(t, "testdata/wat/victim.wat")), isle.Grants{})
	h.Timeout = time.Minute // the accepted ones wait until the victim is killed
	body := bytes.Repeat([]byte("x"), 1<<20)
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	// Half the clients ask before they send, as curl does for big bodies,
	// and get the 503 before sending. The others send regardless, as a
	// hostile client would: they get the 503, or see the connection closed
	// under the upload (reset), which refuses them just as well.
	const clients = 300
	codes, wg := uploadAll(t, ctx, srv.URL+"/up", body, clients)
	// Everything but what the mailbox holds is refused at once.
	count := map[int]int{}
	refused := func() int { return count[503] + count[reset] }
	for len(codes) > 0 || refused() < clients-16 {
		select {
		case c := <-codes:
			count[c]++
		case <-ctx.Done():
			t.Fatalf("waiting for refusals: %v so far", count)
		}
	}
	var during runtime.MemStats
	runtime.ReadMemStats(&during)
	if s := victim.Stats(); s.Queued > 16 || s.PeakMemory > 20<<20 {
		t.Fatalf("the victim holds %d requests and peaked at %d bytes; its mailbox holds 16 MiB", s.Queued, s.PeakMemory)
	}
	if grown := int64(during.HeapInuse) - int64(before.HeapInuse); grown > 96<<20 {
		t.Fatalf("the heap grew by %d MiB under 300 uploads", grown>>20)
	}
	victim.Kill()
	wg.Wait()
	close(codes)
	for c := range codes {
		count[c]++
	}
	if refused() < clients-16 || count[502] != clients-refused() {
		t.Fatalf("status codes %v; want every upload past 16 MiB refused with 503 (or reset, -1) and the rest 502 once the victim died", count)
	}
}

// A client that sends its body a byte at a time is cut off with 408 after
// BodyTimeout, and its reservation is released.
func TestHTTPIngressSlowBodyIsCutOff(t *testing.T) {
	ctx := testCtx(t)
	node := newNode(t)
	p, h, srv := serve(t, node, load(t, node, reactor(t, "testdata/c/httpfn.c")), isle.Grants{})
	h.BodyTimeout = 300 * time.Millisecond
	base := p.Stats().Memory
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	done := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(conn)
		done <- string(b)
	}()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case resp := <-done:
			if !strings.HasPrefix(resp, "HTTP/1.1 408") {
				t.Fatalf("a body at a byte per tick got %q", resp)
			}
			testwasm.WaitFor(t, "the reservation to be released", func() bool { return p.Stats().Memory == base })
			return
		case <-tick.C:
			conn.Write([]byte("x")) // one byte per tick: never enough, never silent
		case <-ctx.Done():
			t.Fatal("the slow body was never cut off")
		}
	}
}

// The same 300 uploads to a supervised service between instances (its
// process exited, and the supervisor waits out a long backoff): requests
// wait in the service for the next instance, within a mailbox's bounds,
// so the uploads that do not fit get 503 before their bodies are read,
// and the node holds one mailbox's worth, as with a running instance.
func TestHTTPIngressServiceBetweenInstancesIsBounded(t *testing.T) {
	ctx := testCtx(t)
	node := newNode(t)
	sup, err := node.Supervise(ctx, isle.SupervisorSpec{
		Name: "app", Strategy: isle.OneForOne, Intensity: 1000, Period: time.Minute,
		Backoff:  isle.Backoff{Min: time.Hour, Max: time.Hour},
		Children: []isle.ChildSpec{{Name: "web", Module: load(t, node, testwasm.WAT(t, "testdata/wat/exit.wat")), Restart: isle.Permanent}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sup.Stop(context.Background())
	svc, _ := sup.Service("web")
	testwasm.WaitFor(t, "the first instance to exit", func() bool { return svc.Current() == nil })
	h := isle.ServiceHTTPHandler(svc)
	h.Timeout = time.Hour // the accepted ones wait until the service is given up
	srv := httptest.NewServer(h)
	defer srv.Close()
	defer sup.Stop(context.Background()) // first: it answers the waiting requests, which srv.Close waits for
	body := bytes.Repeat([]byte("x"), 1<<20)
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	const clients = 300
	codes, wg := uploadAll(t, ctx, srv.URL+"/up", body, clients)
	count := map[int]int{}
	refused := func() int { return count[503] + count[reset] }
	var during runtime.MemStats
	grown := func() int64 {
		runtime.ReadMemStats(&during)
		return int64(during.HeapInuse) - int64(before.HeapInuse)
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for len(codes) > 0 || refused() < clients-16 {
		select {
		case c := <-codes:
			count[c]++
		case <-tick.C:
			if g := grown(); g > 96<<20 { // read unreserved, the bodies pile up
				t.Fatalf("the heap grew by %d MiB under 300 uploads to a service between instances; status codes so far %v", g>>20, count)
			}
		case <-ctx.Done():
			t.Fatalf("waiting for refusals: %v so far", count)
		}
	}
	g := grown()
	t.Logf("the heap grew by %d MiB under %d uploads; status codes so far %v", g>>20, clients, count)
	if g > 96<<20 {
		t.Fatalf("the heap grew by %d MiB under 300 uploads to a service between instances", g>>20)
	}
	if svc.Current() != nil {
		t.Fatal("the service restarted during the test; its backoff is an hour")
	}
	sup.Stop(ctx)
	wg.Wait()
	close(codes)
	for c := range codes {
		count[c]++
	}
	if refused() < clients-16 || count[502] != clients-refused() {
		t.Fatalf("status codes %v; want every upload past 16 MiB refused with 503 (or reset, -1) and the rest 502 once the service was given up", count)
	}
}

// reset is the status uploadAll reports for an upload whose connection
// was closed under it.
const reset = -1

// uploadAll posts body to url from clients clients at once, half of them
// asking first (Expect: 100-continue, as curl does for big bodies) and
// the others sending regardless, as a hostile client would. Each status
// code, or reset, arrives on codes; wg is done once every client is. A
// client that asked first must get an answer, not a closed connection.
func uploadAll(t *testing.T, ctx context.Context, url string, body []byte, clients int) (codes chan int, wg *sync.WaitGroup) {
	client := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: time.Minute}}
	t.Cleanup(client.CloseIdleConnections)
	codes, wg = make(chan int, clients), &sync.WaitGroup{}
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(body))
			asks := i%2 == 0
			if asks {
				req.Header.Set("Expect", "100-continue")
			}
			resp, err := client.Do(req)
			if err != nil {
				if asks {
					t.Errorf("a client that asked first: %v", err)
				}
				codes <- reset
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	return codes, wg
}
