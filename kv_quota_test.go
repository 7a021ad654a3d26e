package isle_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/testwasm"
)

// fill puts keys prefix0, prefix1, ... with vlen-byte values until a put
// fails or n are stored, and returns the failing put's result and how
// many were stored.
func (g kvGuest) fill(h uint32, prefix string, vlen, n uint32) (int32, uint32) {
	g.t.Helper()
	r, rest := g.must(opFill, u32s(h, vlen, n), []byte(prefix))
	return r, binary.LittleEndian.Uint32(rest)
}

// quotaNode is a node on dir whose key-value store is bounded at max.
func quotaNode(t *testing.T, dir string, max int64) *isle.Node {
	t.Helper()
	node, err := isle.NewNode(context.Background(), isle.Config{CacheDir: testwasm.NodeCache(t), DataDir: dir, KVMaxBytes: max})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { node.Close(context.Background()) })
	return node
}

// Guests that put until refused stop at their grant's quota and at the
// node's bound, and the file on disk stops growing with them: before,
// nothing bounded the store, and a guest with the put right could fill
// the disk. Room comes back with deletes and smaller values, and the
// bounds hold across a restart of the node.
func TestKVQuotaHolds(t *testing.T) {
	t.Parallel()
	const (
		quota = 1 << 20 // the quota of bucket a's grant
		bound = 4 << 20 // the node's store
		vlen  = 64 << 10
		cost  = vlen + 2 + 64 // a value, a two-byte key and the overhead
		flood = 1000          // puts a guest tries: 64 MiB
	)
	dir := t.TempDir()
	all := api.RightGet | api.RightPut | api.RightRemove | api.RightList
	node := quotaNode(t, dir, bound)
	g := spawnKV(t, node, map[string]isle.Capability{
		"a": isle.KVCapWithQuota("a", all, quota),
		"b": isle.KVCap("b", all),
		"c": isle.KVCap("c", all),
	})
	a, b, c := g.grant("a"), g.grant("b"), g.grant("c")
	r, puts := g.fill(a, "k", vlen, flood)
	if r != eLimit || puts != quota/cost {
		t.Fatalf("bucket a took %d puts of %d KiB under a 1 MiB quota, then %d; want %d, then ELIMIT", puts, vlen>>10, r, quota/cost)
	}
	// Smaller values over larger ones, and deletes, always go through,
	// and each makes room for one more.
	if r := g.put(a, "k0", "small"); r != 0 {
		t.Errorf("a smaller value over a larger at the quota: %d", r)
	}
	if r := g.del(a, "k1"); r != 0 {
		t.Errorf("a delete at the quota: %d", r)
	}
	if r, n := g.fill(a, "n", vlen, flood); r != eLimit || n != 2 {
		t.Errorf("after a smaller value and a delete, %d more puts fit, then %d; want 2, then ELIMIT", n, r)
	}
	// Two buckets without a quota share what is left of the node's bound.
	rb, nb := g.fill(b, "k", vlen, flood)
	rc, nc := g.fill(c, "k", vlen, flood)
	if rb != eLimit || rc != eLimit || nc != 0 || (puts+nb)*cost > bound {
		t.Fatalf("under the node's 4 MiB bound, b took %d puts (then %d) and c %d (then %d)", nb, rb, nc, rc)
	}
	st, err := os.Stat(filepath.Join(dir, "kv.db"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() > 4*bound {
		t.Errorf("kv.db is %d MiB under a bound of %d MiB", st.Size()>>20, bound>>20)
	}
	if err := node.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	// A node on the same directory knows what the buckets hold.
	node = quotaNode(t, dir, bound)
	g = spawnKV(t, node, map[string]isle.Capability{
		"a": isle.KVCapWithQuota("a", all, quota),
		"d": isle.KVCapWithQuota("d", all, quota),
	})
	if r, n := g.fill(g.grant("a"), "r", vlen, flood); r != eLimit || n != 0 {
		t.Errorf("after a restart, bucket a at its quota took %d puts, then %d", n, r)
	}
	if r, n := g.fill(g.grant("d"), "r", vlen, flood); r != eLimit || n != 0 {
		t.Errorf("after a restart, a new bucket on a full store took %d puts, then %d", n, r)
	}
}

// A put refused for its quota costs the store no transaction: a guest at
// its quota putting in a loop makes no writes and no fsyncs. Before, each
// refused put was committed (an empty transaction, written and fsynced)
// at no cost to the guest.
func TestRefusedPutsCommitNothing(t *testing.T) {
	t.Parallel()
	node := quotaNode(t, t.TempDir(), 0)
	g := spawnKV(t, node, map[string]isle.Capability{
		"a": isle.KVCapWithQuota("a", api.RightPut|api.RightGet, 4<<10),
	})
	a := g.grant("a")
	if r, n := g.fill(a, "k", 1<<10, 100); r != eLimit || n == 0 {
		t.Fatalf("filling a 4 KiB quota with 1 KiB values: %d stored, then %d; want some, then ELIMIT", n, r)
	}
	commits := func() float64 {
		v, ok := value(scrape(t, node.AdminHandler("")), "isle_kv_commits_total")
		if !ok {
			t.Fatal("no isle_kv_commits_total")
		}
		return v
	}
	before := commits()
	const refused = 200
	big := strings.Repeat("x", 2<<10)
	for i := range refused {
		if r := g.put(a, fmt.Sprint("over", i), big); r != eLimit {
			t.Fatalf("put %d past the quota: %d; want ELIMIT", i, r)
		}
	}
	if grew := commits() - before; grew != 0 {
		t.Fatalf("%d puts refused for their quota made %v commits; want none", refused, grew)
	}
}

// writtenBytes is what this process has passed to write calls, files and
// pipes alike (/proc/self/io's wchar).
func writtenBytes(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		t.Skipf("no /proc/self/io: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "wchar: "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no wchar in /proc/self/io")
	return 0
}

// A one-byte put beside large values writes about a page, not the large
// values again: each value of 2 KiB or more is stored alone. Before, bbolt
// rewrote the leaf the key shared with its neighbours, overflow and all,
// and 50 one-byte puts beside two 1 MiB values wrote 100 MiB to the file.
func TestSmallPutsBesideLargeValuesWriteLittle(t *testing.T) {
	node := quotaNode(t, t.TempDir(), 0)
	g := spawnKV(t, node, map[string]isle.Capability{"a": isle.KVCap("a", api.RightPut)})
	a := g.grant("a")
	if r, n := g.fill(a, "k", 1<<20, 2); r != 0 || n != 2 {
		t.Fatalf("two 1 MiB values: %d stored, then %d", n, r)
	}
	const puts = 50
	before := writtenBytes(t)
	for i := range puts {
		if r := g.put(a, "k0x", fmt.Sprint(i%10)); r != 0 {
			t.Fatalf("put %d: %d", i, r)
		}
	}
	wrote := writtenBytes(t) - before
	t.Logf("%d one-byte puts between two 1 MiB values wrote %.2f MiB", puts, float64(wrote)/(1<<20))
	if wrote > 5<<20 {
		t.Fatalf("%d one-byte puts between two 1 MiB values wrote %.1f MiB; want under 5", puts, float64(wrote)/(1<<20))
	}
}
