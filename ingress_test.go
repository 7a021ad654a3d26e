package isle_test

import (
	"bytes"
	"io"
	"net"
	"net/http"
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
	client := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: time.Minute}}
	defer client.CloseIdleConnections()
	const clients, reset = 300, -1
	codes := make(chan int, clients)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/up", bytes.NewReader(body))
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
