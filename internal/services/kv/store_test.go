package kv

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func openStore(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func keys(t *testing.T, b *Bucket, prefix, after string) []string {
	t.Helper()
	var out []string
	if err := b.List([]byte(prefix), []byte(after), func(k []byte) bool {
		out = append(out, string(k))
		return true
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestStore(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "sub", "kv.db"))
	b, err := s.Bucket("b")
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := s.Bucket("b"); again != b {
		t.Fatal("a second Bucket call made a second object")
	}
	if err := b.Put([]byte("k"), []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	if v, err := b.Get([]byte("k")); err != nil || string(v) != "v" {
		t.Fatalf("get: %q %v", v, err)
	}
	if _, err := b.Get([]byte("nope")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get missing: %v", err)
	}
	if err := b.Put([]byte("empty"), nil, 0); err != nil {
		t.Fatal(err)
	}
	if v, err := b.Get([]byte("empty")); err != nil || v == nil || len(v) != 0 {
		t.Fatalf("empty value: %q %v", v, err)
	}
	if err := b.Delete([]byte("k")); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete([]byte("k")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete again: %v", err)
	}

	// Limits.
	if err := b.Put(nil, []byte("v"), 0); !errors.Is(err, ErrKeyEmpty) {
		t.Fatalf("empty key: %v", err)
	}
	if err := b.Put(make([]byte, MaxKey+1), nil, 0); !errors.Is(err, ErrTooBig) {
		t.Fatalf("long key: %v", err)
	}
	if err := b.Put([]byte("big"), make([]byte, MaxValue+1), 0); !errors.Is(err, ErrTooBig) {
		t.Fatalf("big value: %v", err)
	}
	if err := b.Put(bytes.Repeat([]byte("k"), MaxKey), make([]byte, MaxValue), 0); err != nil {
		t.Fatalf("largest entry: %v", err)
	}
	if _, err := s.Bucket(""); err == nil {
		t.Fatal("empty bucket name accepted")
	}
	if _, err := s.Bucket(strings.Repeat("n", MaxBucketName+1)); err == nil {
		t.Fatal("long bucket name accepted")
	}

	// Listing.
	for _, k := range []string{"p/b", "p/a", "q", "p/c", "o"} {
		if err := b.Put([]byte(k), nil, 0); err != nil {
			t.Fatal(err)
		}
	}
	if got := keys(t, b, "p/", ""); !slices.Equal(got, []string{"p/a", "p/b", "p/c"}) {
		t.Fatalf("prefix: %q", got)
	}
	if got := keys(t, b, "p/", "p/a"); !slices.Equal(got, []string{"p/b", "p/c"}) {
		t.Fatalf("after a key: %q", got)
	}
	if got := keys(t, b, "p/", "p/aa"); !slices.Equal(got, []string{"p/b", "p/c"}) {
		t.Fatalf("after a non-key: %q", got)
	}
	if got := keys(t, b, "p/", "a"); !slices.Equal(got, []string{"p/a", "p/b", "p/c"}) {
		t.Fatalf("after something before the prefix: %q", got)
	}
	if got := keys(t, b, "p/", "z"); got != nil {
		t.Fatalf("after everything: %q", got)
	}

	// Another bucket is empty.
	other, err := s.Bucket("other")
	if err != nil {
		t.Fatal(err)
	}
	if got := keys(t, other, "", ""); got != nil {
		t.Fatalf("other bucket: %q", got)
	}
}

// TestGroupCommit: writes queued while a commit is being flushed share the
// next one, and each still gets its own outcome.
func TestGroupCommit(t *testing.T) {
	// Hold the committer at its first commit while the writes queue, as a
	// slow fsync would.
	held, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	testHookBeforeCommit = func() {
		once.Do(func() {
			close(held)
			<-release
		})
	}
	s := openStore(t, filepath.Join(t.TempDir(), "kv.db"))
	defer func() {
		s.Close() // the committer is gone before the hook is
		testHookBeforeCommit = nil
	}()
	b, _ := s.Bucket("b")
	before := s.Stats()
	const n = 200
	var ws []*Write
	for i := range n {
		w, err := b.StartPut(fmt.Appendf(nil, "k%03d", i), fmt.Appendf(nil, "v%d", i), 0)
		if err != nil {
			t.Fatal(err)
		}
		ws = append(ws, w)
		if i == 0 {
			<-held // the first write is being committed
		}
	}
	// A delete of a key that is not there fails alone, in the same batch.
	miss, _ := b.StartDelete([]byte("absent"))
	close(release)
	for _, w := range ws {
		<-w.Done()
		if w.Err() != nil {
			t.Fatal(w.Err())
		}
	}
	<-miss.Done()
	if !errors.Is(miss.Err(), ErrNotFound) {
		t.Fatalf("delete of a missing key in a batch: %v", miss.Err())
	}
	st := s.Stats()
	commits, writes := st.Commits-before.Commits, st.Writes-before.Writes
	if writes != n+1 || commits != 2 {
		t.Fatalf("%d writes took %d commits; the 200 queued behind the first should share one", writes, commits)
	}
	t.Logf("%d writes in %d commits", writes, commits)

	// Many goroutines at once: all stored, fewer commits than writes.
	before = s.Stats()
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				if err := b.Put(fmt.Appendf(nil, "g%02d-%d", g, i), []byte("x"), 0); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if got := keys(t, b, "g", ""); len(got) != 320 {
		t.Fatalf("%d keys after concurrent puts", len(got))
	}
	st = s.Stats()
	t.Logf("32 goroutines: %d writes in %d commits", st.Writes-before.Writes, st.Commits-before.Commits)
}

// TestCloseDrains: Close waits for queued writes, and the next Open sees
// them; writes after Close fail.
func TestCloseDrains(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kv.db")
	s, err := Open(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := s.Bucket("b")
	for i := range 100 {
		if _, err := b.StartPut(fmt.Appendf(nil, "k%d", i), []byte("v"), 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Put([]byte("late"), nil, 0); !errors.Is(err, ErrClosed) {
		t.Fatalf("put after close: %v", err)
	}
	s2 := openStore(t, path)
	b2, _ := s2.Bucket("b")
	if got := keys(t, b2, "k", ""); len(got) != 100 {
		t.Fatalf("%d of 100 queued writes after reopening", len(got))
	}
}

// TestOpenTwice: a store held by one opener is refused to another with a
// clear error, not a hang.
func TestOpenTwice(t *testing.T) {
	defer func(d time.Duration) { lockTimeout = d }(lockTimeout)
	lockTimeout = 50 * time.Millisecond
	path := filepath.Join(t.TempDir(), "kv.db")
	openStore(t, path)
	if _, err := Open(path, 0); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second open: %v", err)
	}
}

// Concurrent puts, committed together in batches, never take a bucket
// past its quota or the store past its bound, and exactly as many fit as
// there is room for.
func TestQuotaHoldsUnderConcurrentPuts(t *testing.T) {
	const (
		value = 1000
		cost  = value + 4 + EntryOverhead // keys are 4 bytes
		quota = 50 * cost
		bound = 80 * cost
	)
	path := filepath.Join(t.TempDir(), "kv.db")
	s, err := Open(path, bound)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := s.Bucket("a")
	b, _ := s.Bucket("b")
	var wg sync.WaitGroup
	var mu sync.Mutex
	stored := map[*Bucket]int{}
	for w := range 8 {
		wg.Go(func() {
			for i := range 20 {
				for _, bk := range []*Bucket{a, b} {
					q := int64(0)
					if bk == a {
						q = quota
					}
					err := bk.Put(fmt.Appendf(nil, "%d%03d", w, i), make([]byte, value), q)
					switch {
					case err == nil:
						mu.Lock()
						stored[bk]++
						mu.Unlock()
					case !errors.Is(err, ErrQuota) && !errors.Is(err, ErrFull):
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	if stored[a] > 50 || a.Size() != int64(stored[a])*cost || stored[a]+stored[b] != 80 {
		t.Errorf("a stored %d (size %d), b %d; want at most 50 in a, and 80 together", stored[a], a.Size(), stored[b])
	}
	if st := s.Stats(); st.Size != 80*cost || st.Max != bound {
		t.Errorf("the store's size is %d of %d, want %d of %d", st.Size, st.Max, 80*cost, bound)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Reopened, it measures the same.
	inA := int64(stored[a]) * cost
	s = openStore(t, path)
	a, _ = s.Bucket("a")
	if st := s.Stats(); st.Size != 80*cost || a.Size() != inA {
		t.Errorf("reopened, the store's size is %d and a's %d; want %d and %d", st.Size, a.Size(), 80*cost, inA)
	}
}

// Values in line and stored alone (outOfLine and over) replace each other
// in every order, read back whole, list as keys, delete, and cost the same
// after a reopen.
func TestValuesStoredAlone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kv.db")
	s := openStore(t, path)
	b, err := s.Bucket("b")
	if err != nil {
		t.Fatal(err)
	}
	sizes := []int{0, 1, outOfLine - 1, outOfLine, MaxValue}
	val := func(n, seed int) []byte { return bytes.Repeat([]byte{byte('a' + seed)}, n) }
	for i, from := range sizes {
		for j, to := range sizes {
			key := []byte(fmt.Sprintf("k%d-%d", i, j))
			for step, v := range [][]byte{val(from, i), val(to, j)} {
				if err := b.Put(key, v, 0); err != nil {
					t.Fatalf("put %s (%d bytes, step %d): %v", key, len(v), step, err)
				}
				if got, err := b.Get(key); err != nil || !bytes.Equal(got, v) {
					t.Fatalf("get %s after putting %d bytes: %d bytes, %v", key, len(v), len(got), err)
				}
			}
		}
	}
	if got := len(keys(t, b, "k", "")); got != len(sizes)*len(sizes) {
		t.Fatalf("listed %d keys, want %d", got, len(sizes)*len(sizes))
	}
	if err := b.Delete([]byte("k0-4")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get([]byte("k0-4")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a value stored alone, deleted: %v", err)
	}
	var want int64
	for i := range sizes {
		for j, to := range sizes {
			if i != 0 || j != 4 {
				want += entryCost([]byte(fmt.Sprintf("k%d-%d", i, j)), make([]byte, to))
			}
		}
	}
	if b.Size() != want {
		t.Fatalf("the bucket costs %d, want %d", b.Size(), want)
	}
	s.Close()
	s = openStore(t, path)
	if b, err = s.Bucket("b"); err != nil || b.Size() != want {
		t.Fatalf("reopened, the bucket costs %d (%v), want %d", b.Size(), err, want)
	}
}
