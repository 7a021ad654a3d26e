// Command writer is the crash test's subject: a Go program embedding isle
// that runs guests putting keys into a bucket, and prints "acked KEY" for
// each put a guest reports as successful. The test kills it with SIGKILL
// and then runs it with -check, which reads the acked keys on stdin and
// verifies through a new node that each is stored with its value.
//
// The guest is testdata/c/kv.c of the repository, built by the test.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"hash/fnv"
	"os"
	"sync"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/api"
)

// Operations of testdata/c/kv.c.
const (
	opGrant = 1
	opPut   = 2
	opGet   = 3
)

func main() {
	data := flag.String("data", "", "the node's data directory")
	cache := flag.String("cache", "", "the node's compilation cache")
	guest := flag.String("guest", "", "testdata/c/kv.c, built as a reactor")
	check := flag.Bool("check", false, "verify the keys on stdin instead of writing")
	writers := flag.Int("writers", 4, "guests putting at once")
	prefix := flag.String("prefix", "k", "the keys' prefix")
	flag.Parse()
	ctx := context.Background()
	node, err := isle.NewNode(ctx, isle.Config{DataDir: *data, CacheDir: *cache})
	if err != nil {
		fail("node: %v", err)
	}
	mod, err := node.LoadModuleFile(ctx, *guest)
	if err != nil {
		fail("load: %v", err)
	}
	if *check {
		os.Exit(verify(ctx, node, mod))
	}
	var out sync.Mutex
	var wg sync.WaitGroup
	for w := range *writers {
		p, h := spawn(ctx, node, mod, api.RightPut)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				key := fmt.Sprintf("%s/%d/%08d", *prefix, w, i)
				if r := call(ctx, p, opPut, u32s(h, uint32(len(key))), []byte(key), value(key)); r != 0 {
					fail("put %s: %d", key, r)
				}
				// One write per line: the line is in the pipe before the
				// next put starts.
				out.Lock()
				os.Stdout.WriteString("acked " + key + "\n")
				out.Unlock()
			}
		}()
	}
	wg.Wait()
}

// verify reads keys, one a line, and checks each; it prints "ok N" and
// returns 0 if all are there with the right value.
func verify(ctx context.Context, node *isle.Node, mod *isle.Module) int {
	p, h := spawn(ctx, node, mod, api.RightGet|api.RightPut)
	sc := bufio.NewScanner(os.Stdin)
	n, bad := 0, 0
	for sc.Scan() {
		key := sc.Text()
		n++
		want := value(key)
		r, got := callData(ctx, p, opGet, u32s(h, 1<<20), []byte(key))
		switch {
		case r < 0:
			fmt.Printf("missing %s: %d\n", key, r)
			bad++
		case !bytes.Equal(got, want):
			fmt.Printf("wrong %s: %d bytes, want %d\n", key, len(got), len(want))
			bad++
		}
	}
	// The store must still take writes after the crash.
	if r := call(ctx, p, opPut, u32s(h, 5), []byte("after"), []byte("crash")); r != 0 {
		fmt.Printf("put after the crash: %d\n", r)
		bad++
	}
	if bad > 0 {
		return 1
	}
	fmt.Println("ok", n)
	return 0
}

// value is the value stored under key: its size and content depend only
// on the key, and one in 37 spans several pages.
func value(key string) []byte {
	h := fnv.New32a()
	h.Write([]byte(key))
	sum := h.Sum32()
	n := 16 + int(sum%2000)
	if sum%37 == 0 {
		n = 40 << 10
	}
	v := make([]byte, n)
	for i := range v {
		v[i] = key[i%len(key)] ^ byte(i>>8)
	}
	return v
}

func spawn(ctx context.Context, node *isle.Node, mod *isle.Module, rights api.Rights) (*isle.Process, uint32) {
	p, err := node.Spawn(ctx, mod, isle.Grants{Caps: map[string]isle.Capability{"kv": isle.KVCap("durable", rights)}}, isle.Limits{})
	if err != nil {
		fail("spawn: %v", err)
	}
	h := call(ctx, p, opGrant, []byte("kv"))
	if h <= 0 {
		fail("grant: %d", h)
	}
	return p, uint32(h)
}

func call(ctx context.Context, p *isle.Process, op uint32, payload ...[]byte) int32 {
	r, _ := callData(ctx, p, op, payload...)
	return r
}

func callData(ctx context.Context, p *isle.Process, op uint32, payload ...[]byte) (int32, []byte) {
	m, err := p.Call(ctx, isle.Message{Tag: op, Data: bytes.Join(payload, nil)})
	if err != nil || len(m.Data) < 4 {
		fail("call %d: %v", op, err)
	}
	return int32(binary.LittleEndian.Uint32(m.Data)), m.Data[4:]
}

func u32s(vs ...uint32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	return b
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "writer: "+format+"\n", args...)
	os.Exit(2)
}
