package isle_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"testing"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/testwasm"
)

// Result codes, as docs/ABI.md numbers them.
const (
	kvETooBig   = -4
	kvERights   = -5
	kvERevoked  = -6
	kvENotFound = -8
)

// Operations of testdata/c/kv.c.
const (
	opGrant = iota + 1
	opPut
	opGet
	opDel
	opList
	opDup
	opRevocable
	opRevoke
	opMisuse
	opPutN
	opGetSum
	opFill
)

// kvNode is a node with a data directory of its own.
func kvNode(t *testing.T, dataDir string) *isle.Node {
	t.Helper()
	node, err := isle.NewNode(context.Background(), isle.Config{CacheDir: testwasm.NodeCache(t), DataDir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { node.Close(context.Background()) })
	return node
}

// kvGuest drives testdata/c/kv.c: each method makes one kv call in the
// guest and returns its result code.
type kvGuest struct {
	t *testing.T
	p *isle.Process
}

func spawnKV(t *testing.T, node *isle.Node, caps map[string]isle.Capability) kvGuest {
	t.Helper()
	mod := load(t, node, reactor(t, "testdata/c/kv.c"))
	p, err := node.Spawn(context.Background(), mod, isle.Grants{Caps: caps}, isle.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	return kvGuest{t, p}
}

func u32s(vs ...uint32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	return b
}

// call sends one operation and returns the guest's result and the rest of
// its reply.
func (g kvGuest) call(op uint32, payload ...[]byte) (int32, []byte, error) {
	r, err := g.p.Call(testwasm.Context(g.t), isle.Message{Tag: op, Data: bytes.Join(payload, nil)})
	if err != nil {
		return 0, nil, err
	}
	if len(r.Data) < 4 {
		g.t.Fatalf("op %d: short reply %x", op, r.Data)
	}
	return int32(binary.LittleEndian.Uint32(r.Data)), r.Data[4:], nil
}

func (g kvGuest) must(op uint32, payload ...[]byte) (int32, []byte) {
	g.t.Helper()
	r, rest, err := g.call(op, payload...)
	if err != nil {
		g.t.Fatalf("op %d: %v", op, err)
	}
	return r, rest
}

func (g kvGuest) grant(name string) uint32 {
	g.t.Helper()
	r, _ := g.must(opGrant, []byte(name))
	if r <= 0 {
		g.t.Fatalf("grant %q: %d", name, r)
	}
	return uint32(r)
}

func (g kvGuest) put(h uint32, key, value string) int32 {
	g.t.Helper()
	r, _ := g.must(opPut, u32s(h, uint32(len(key))), []byte(key), []byte(value))
	return r
}

// get returns kv_get's result and the bytes copied.
func (g kvGuest) get(h uint32, key string, bufCap uint32) (int32, string) {
	g.t.Helper()
	r, rest := g.must(opGet, u32s(h, bufCap), []byte(key))
	return r, string(rest)
}

func (g kvGuest) del(h uint32, key string) int32 {
	g.t.Helper()
	r, _ := g.must(opDel, u32s(h), []byte(key))
	return r
}

// list returns kv_list's result and the keys it wrote, decoded.
func (g kvGuest) list(h uint32, prefix, after string, bufCap uint32) (int32, []string) {
	g.t.Helper()
	r, rest := g.must(opList, u32s(h, bufCap, uint32(len(prefix))), []byte(prefix), []byte(after))
	walked, buf := binary.LittleEndian.Uint32(rest), rest[4:]
	var keys []string
	used := 0
	for i := int32(0); i < r; i++ {
		n := int(binary.LittleEndian.Uint16(buf[used:]))
		keys = append(keys, string(buf[used+2:used+2+n]))
		used += 2 + n
	}
	if int(walked) != used {
		g.t.Fatalf("isle_kv_record walked %d bytes of %d records; they take %d", walked, r, used)
	}
	return r, keys
}

// TestKVGuest drives every kv function from a C guest and checks each
// result, including the length probe, limits and paging.
func TestKVGuest(t *testing.T) {
	t.Parallel()
	node := kvNode(t, t.TempDir())
	g := spawnKV(t, node, map[string]isle.Capability{"kv": isle.KVCap("main", api.RightGet|api.RightPut|api.RightRemove|api.RightList)})
	h := g.grant("kv")

	if r := g.put(h, "apple", "red"); r != 0 {
		t.Fatalf("put: %d", r)
	}
	if r, v := g.get(h, "apple", 64); r != 3 || v != "red" {
		t.Fatalf("get: %d %q", r, v)
	}
	if r, _ := g.get(h, "apple", 2); r != kvETooBig {
		t.Fatalf("get into 2 bytes: %d, want ETOOBIG", r)
	}
	if r, v := g.get(h, "apple", 0); r != 3 || v != "" {
		t.Fatalf("length probe: %d %q, want 3 and nothing copied", r, v)
	}
	if r, _ := g.get(h, "pear", 64); r != kvENotFound {
		t.Fatalf("get missing: %d", r)
	}
	if r, _ := g.get(h, "pear", 0); r != kvENotFound {
		t.Fatalf("probe missing: %d", r)
	}
	// An empty value is a value, not a missing key.
	if r := g.put(h, "void", ""); r != 0 {
		t.Fatalf("put empty: %d", r)
	}
	if r, _ := g.get(h, "void", 8); r != 0 {
		t.Fatalf("get empty: %d", r)
	}
	if r := g.put(h, "apple", "green"); r != 0 {
		t.Fatalf("overwrite: %d", r)
	}
	if r, v := g.get(h, "apple", 64); v != "green" {
		t.Fatalf("after overwrite: %d %q", r, v)
	}
	if r := g.del(h, "apple"); r != 0 {
		t.Fatalf("delete: %d", r)
	}
	if r := g.del(h, "apple"); r != kvENotFound {
		t.Fatalf("delete again: %d", r)
	}
	if r, _ := g.get(h, "apple", 64); r != kvENotFound {
		t.Fatalf("get deleted: %d", r)
	}

	// Limits: keys up to 1 KiB, values up to 1 MiB.
	long := strings.Repeat("k", 1024)
	if r := g.put(h, long, "v"); r != 0 {
		t.Fatalf("1 KiB key: %d", r)
	}
	if r := g.put(h, long+"k", "v"); r != kvETooBig {
		t.Fatalf("1 KiB + 1 key: put %d", r)
	}
	if r, _ := g.get(h, long+"k", 8); r != kvETooBig {
		t.Fatalf("1 KiB + 1 key: get %d", r)
	}
	if r := g.del(h, long+"k"); r != kvETooBig {
		t.Fatalf("1 KiB + 1 key: delete %d", r)
	}
	if r := g.del(h, long); r != 0 {
		t.Fatalf("delete the 1 KiB key: %d", r)
	}
	if r, _ := g.must(opPutN, u32s(h, 1<<20), []byte("max")); r != 0 {
		t.Fatalf("1 MiB value: %d", r)
	}
	if r, _ := g.must(opPutN, u32s(h, 1<<20+1), []byte("over")); r != kvETooBig {
		t.Fatalf("1 MiB + 1 value: %d", r)
	}
	want := fnv.New32a()
	for i := range 1 << 20 {
		want.Write([]byte{byte(i*7 + len("max"))})
	}
	r, rest := g.must(opGetSum, u32s(h, 1<<20), []byte("max"))
	if r != 1<<20 || binary.LittleEndian.Uint32(rest) != want.Sum32() {
		t.Fatalf("1 MiB value read back: %d, sum %x want %x", r, binary.LittleEndian.Uint32(rest), want.Sum32())
	}

	// Listing: order, prefix, records, paging by after.
	for _, k := range []string{"b/2", "b/10", "b/1", "a", "c", "b/3"} {
		if r := g.put(h, k, "x"); r != 0 {
			t.Fatalf("put %s: %d", k, r)
		}
	}
	if r, keys := g.list(h, "b/", "", 4096); r != 4 || strings.Join(keys, " ") != "b/1 b/10 b/2 b/3" {
		t.Fatalf("list b/: %d %q", r, keys)
	}
	// Each record is 2+3 or 2+4 bytes: 12 bytes hold two of them.
	var paged []string
	after := ""
	for {
		r, keys := g.list(h, "b/", after, 12)
		if r < 0 {
			t.Fatalf("page after %q: %d", after, r)
		}
		if r == 0 {
			break
		}
		if r > 2 {
			t.Fatalf("page of %d records in 12 bytes", r)
		}
		paged = append(paged, keys...)
		after = keys[len(keys)-1]
	}
	if strings.Join(paged, " ") != "b/1 b/10 b/2 b/3" {
		t.Fatalf("paged: %q", paged)
	}
	if r, keys := g.list(h, "b/", "", 5); r != 1 || keys[0] != "b/1" {
		t.Fatalf("list into exactly one record's 5 bytes: %d %q", r, keys)
	}
	if r, _ := g.list(h, "b/", "", 4); r != kvETooBig {
		t.Fatalf("list into 4 bytes: %d, want ETOOBIG", r)
	}
	if r, keys := g.list(h, "", "b/3", 4096); r != 3 || strings.Join(keys, " ") != "c max void" {
		t.Fatalf("list after b/3: %d %q", r, keys)
	}
	if r, keys := g.list(h, "zzz", "", 4096); r != 0 || keys != nil {
		t.Fatalf("list of nothing: %d %q", r, keys)
	}
}

// TestKVRights: a missing right is an error the guest can handle, never
// abandonment; rights narrow with dup and never widen; revocation
// reaches every copy.
func TestKVRights(t *testing.T) {
	t.Parallel()
	node := kvNode(t, t.TempDir())
	g := spawnKV(t, node, map[string]isle.Capability{
		"rw": isle.KVCap("b", api.RightGet|api.RightPut|api.RightRemove|api.RightList),
		"ro": isle.KVCap("b", api.RightGet),
	})
	rw, ro := g.grant("rw"), g.grant("ro")
	if r := g.put(rw, "k", "v"); r != 0 {
		t.Fatalf("put: %d", r)
	}
	if r, v := g.get(ro, "k", 8); r != 1 || v != "v" {
		t.Fatalf("get through ro: %d %q", r, v)
	}
	if r := g.put(ro, "k", "w"); r != kvERights {
		t.Fatalf("put through ro: %d, want ERIGHTS", r)
	}
	if r := g.del(ro, "k"); r != kvERights {
		t.Fatalf("delete through ro: %d, want ERIGHTS", r)
	}
	if r, _ := g.list(ro, "", "", 64); r != kvERights {
		t.Fatalf("list through ro: %d, want ERIGHTS", r)
	}

	// Attenuate the full handle to get|list.
	narrow, _ := g.must(opDup, u32s(rw, uint32(api.RightGet|api.RightList)))
	if narrow <= 0 {
		t.Fatalf("dup: %d", narrow)
	}
	n := uint32(narrow)
	if r := g.put(n, "k", "w"); r != kvERights {
		t.Fatalf("put through the narrowed handle: %d, want ERIGHTS", r)
	}
	if r, keys := g.list(n, "", "", 64); r != 1 || keys[0] != "k" {
		t.Fatalf("list through the narrowed handle: %d %q", r, keys)
	}
	if r, _ := g.must(opDup, u32s(ro, uint32(api.RightGet|api.RightPut))); r != kvERights {
		t.Fatalf("dup widening ro: %d, want ERIGHTS", r)
	}

	// A revocable forwarder works until it is revoked, then refuses.
	fwd, rest := g.must(opRevocable, u32s(rw, uint32(api.RightGet)))
	if fwd <= 0 {
		t.Fatalf("revocable: %d", fwd)
	}
	revoker := binary.LittleEndian.Uint32(rest)
	if r, _ := g.get(uint32(fwd), "k", 8); r != 1 {
		t.Fatalf("get through the forwarder: %d", r)
	}
	if r, _ := g.must(opRevoke, u32s(revoker)); r != 0 {
		t.Fatalf("revoke: %d", r)
	}
	if r, _ := g.get(uint32(fwd), "k", 8); r != kvERevoked {
		t.Fatalf("get through the revoked forwarder: %d, want EREVOKED", r)
	}
	// The process was refused, never abandoned: it still works.
	if r, v := g.get(rw, "k", 8); r != 1 || v != "v" {
		t.Fatalf("after the refusals: %d %q", r, v)
	}
}

// TestKVMisuseAbandons: bad pointers, an empty key and a handle that is not
// a bucket are bugs, and abandon the process with CauseMisuse.
func TestKVMisuseAbandons(t *testing.T) {
	t.Parallel()
	node := kvNode(t, t.TempDir())
	cases := []struct {
		name, detail string
	}{
		{"key out of bounds", "kv_get: range"},
		{"buffer out of bounds", "kv_get: range"},
		{"value out of bounds", "kv_put: range"},
		{"range wraps", "kv_list: range"},
		{"empty key", "kv_put: empty key"},
		{"process handle", "kv_get: handle"},
		{"unknown handle", "kv_delete: handle"},
	}
	for which, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := spawnKV(t, node, map[string]isle.Capability{"kv": isle.KVCap("b", api.RightGet|api.RightPut|api.RightRemove|api.RightList)})
			h := g.grant("kv")
			if _, _, err := g.call(opMisuse, u32s(h, uint32(which))); !errors.Is(err, isle.ErrGone) {
				t.Fatalf("call: %v, want ErrGone (the guest abandoned)", err)
			}
			exit, err := g.p.Wait(testwasm.Context(t))
			if err != nil {
				t.Fatal(err)
			}
			if exit.Kind != api.ExitAbandoned || exit.Abandon.Cause != api.CauseMisuse || !strings.Contains(exit.Abandon.Detail, c.detail) {
				t.Fatalf("exit %v, want misuse containing %q", exit, c.detail)
			}
		})
	}
}

// TestKVBucketsAreSeparate: two buckets of one store share no keys, and a
// process granted one cannot see the other's.
func TestKVBucketsAreSeparate(t *testing.T) {
	t.Parallel()
	node := kvNode(t, t.TempDir())
	all := api.RightGet | api.RightPut | api.RightRemove | api.RightList
	g := spawnKV(t, node, map[string]isle.Capability{"a": isle.KVCap("alpha", all), "b": isle.KVCap("beta", all)})
	a, b := g.grant("a"), g.grant("b")
	if g.put(a, "k", "in alpha") != 0 || g.put(b, "k", "in beta") != 0 || g.put(a, "only-alpha", "x") != 0 {
		t.Fatal("puts failed")
	}
	if _, v := g.get(a, "k", 64); v != "in alpha" {
		t.Fatalf("alpha: %q", v)
	}
	if _, v := g.get(b, "k", 64); v != "in beta" {
		t.Fatalf("beta: %q", v)
	}
	if r, _ := g.get(b, "only-alpha", 64); r != kvENotFound {
		t.Fatalf("alpha's key through beta: %d", r)
	}
	if r, keys := g.list(b, "", "", 4096); r != 1 || keys[0] != "k" {
		t.Fatalf("beta lists %q", keys)
	}
	if g.del(a, "k") != 0 {
		t.Fatal("delete")
	}
	if _, v := g.get(b, "k", 64); v != "in beta" {
		t.Fatalf("beta after alpha's delete: %q", v)
	}
	// Another process granted beta alone reaches beta and nothing else.
	g2 := spawnKV(t, node, map[string]isle.Capability{"b": isle.KVCap("beta", api.RightGet)})
	if r, _, _ := g2.call(opGrant, []byte("a")); r != kvENotFound {
		t.Fatalf("grant a in the second process: %d", r)
	}
	if _, v := g2.get(g2.grant("b"), "k", 64); v != "in beta" {
		t.Fatalf("second process: %q", v)
	}
}

// TestKVSurvivesNodeRestart: what one node put, the next node on the same
// data directory reads. A node without a data directory refuses the grant
// with a clear error.
func TestKVSurvivesNodeRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()
	all := api.RightGet | api.RightPut | api.RightRemove | api.RightList
	for round := range 3 {
		node, err := isle.NewNode(ctx, isle.Config{CacheDir: testwasm.NodeCache(t), DataDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		g := spawnKV(t, node, map[string]isle.Capability{"kv": isle.KVCap("b", all)})
		h := g.grant("kv")
		for i := range round {
			key := fmt.Sprint("round-", i)
			if r, v := g.get(h, key, 64); r < 0 || v != fmt.Sprint("value-", i) {
				t.Fatalf("round %d: %s is %d %q", round, key, r, v)
			}
		}
		if r := g.put(h, fmt.Sprint("round-", round), fmt.Sprint("value-", round)); r != 0 {
			t.Fatalf("put: %d", r)
		}
		if err := node.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}

	node := newNode(t) // no DataDir
	mod := load(t, node, reactor(t, "testdata/c/kv.c"))
	_, err := node.Spawn(ctx, mod, isle.Grants{Caps: map[string]isle.Capability{"kv": isle.KVCap("b", all)}}, isle.Limits{})
	if err == nil || !strings.Contains(err.Error(), "DataDir") {
		t.Fatalf("spawn with a bucket on a node without a data directory: %v", err)
	}
}

// TestKVGoSDK runs the Go SDK's checks in a Go guest.
func TestKVGoSDK(t *testing.T) {
	t.Parallel()
	node := kvNode(t, t.TempDir())
	mod := load(t, node, testwasm.Go(t, "testdata/go/kv"))
	all := api.RightGet | api.RightPut | api.RightRemove | api.RightList
	var out bytes.Buffer
	exit := run(t, node, mod, isle.Grants{
		Stdout: &out, Stderr: &out,
		Caps: map[string]isle.Capability{
			"kv":    isle.KVCap("main", all),
			"ro":    isle.KVCap("main", api.RightGet),
			"other": isle.KVCap("other", all),
			"clock": isle.ClockCap(api.RightMonotonic),
		},
	}, isle.Limits{})
	expectOK(t, exit, out.String(), "open-missing", "open-wrong-kind", "dup-narrows", "put-get", "get-missing", "empty-value", "big-value",
		"max-value", "value-too-big", "key-too-big", "empty-key", "overwrite", "delete", "list-pages",
		"list-prefix", "keys-after", "list-all", "list-none", "ro-get", "ro-refused", "buckets-separate")
}
