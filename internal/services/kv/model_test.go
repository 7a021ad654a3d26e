package kv

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"path/filepath"
	"sort"
	"testing"
)

// Random batches of puts and deletes, of values on both sides of
// outOfLine and keys that switch between the two forms, agree with a map:
// after each round every get, the listing and the sizes match it, and so
// does a reopened store every 50 rounds. (Written by an outside review.)
func TestModelOfMixedBatches(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kv.db")
	s, err := Open(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := s.Bucket("b")
	b2, _ := s.Bucket("c")
	model := map[string][]byte{}
	model2 := map[string][]byte{}
	sizes := []int{0, 1, 100, outOfLine - 1, outOfLine, outOfLine + 1, 4096, 5000, 70000, MaxValue}
	keysPool := []string{"a", "b", "\x00", "k\x00", "long" + string(bytes.Repeat([]byte("x"), 900))}
	rng := rand.New(rand.NewSource(1))
	cost := func(m map[string][]byte) int64 {
		var n int64
		for k, v := range m {
			n += entryCost([]byte(k), v)
		}
		return n
	}
	check := func(round int) {
		for bi, pair := range []struct {
			b *Bucket
			m map[string][]byte
		}{{b, model}, {b2, model2}} {
			for _, k := range keysPool {
				v, err := pair.b.Get([]byte(k))
				want, ok := pair.m[k]
				if ok != (err == nil) || !bytes.Equal(v, want) || (ok && v == nil) {
					t.Fatalf("round %d bucket %d key %q: got %d bytes, %v; want %d, %v", round, bi, k, len(v), err, len(want), ok)
				}
			}
			var got []string
			pair.b.List(nil, nil, func(k []byte) bool { got = append(got, string(k)); return true })
			var want []string
			for k := range pair.m {
				want = append(want, k)
			}
			sort.Strings(want)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("round %d: list %q want %q", round, got, want)
			}
			if pair.b.Size() != cost(pair.m) {
				t.Fatalf("round %d bucket %d: size %d want %d", round, bi, pair.b.Size(), cost(pair.m))
			}
		}
		if s.Stats().Size != cost(model)+cost(model2) {
			t.Fatalf("round %d: store size %d want %d", round, s.Stats().Size, cost(model)+cost(model2))
		}
	}
	for round := 0; round < 300; round++ {
		// a batch: hold the committer while writes queue
		release := make(chan struct{})
		testHookBeforeCommit = func() { <-release }
		var ws []*Write
		n := 1 + rng.Intn(6)
		for i := 0; i < n; i++ {
			bk, m := b, model
			if rng.Intn(3) == 0 {
				bk, m = b2, model2
			}
			k := keysPool[rng.Intn(len(keysPool))]
			if rng.Intn(4) == 0 {
				w, err := bk.StartDelete([]byte(k))
				if err != nil {
					t.Fatal(err)
				}
				ws = append(ws, w)
				delete(m, k)
			} else {
				v := bytes.Repeat([]byte{byte(rng.Intn(256))}, sizes[rng.Intn(len(sizes))])
				w, err := bk.StartPut([]byte(k), v, 0)
				if err != nil {
					t.Fatal(err)
				}
				ws = append(ws, w)
				m[k] = v
			}
		}
		close(release)
		for _, w := range ws {
			<-w.Done()
			if err := w.Err(); err != nil && !errors.Is(err, ErrNotFound) {
				t.Fatal(err)
			}
		}
		testHookBeforeCommit = nil
		check(round)
		if round%50 == 49 {
			s.Close()
			if s, err = Open(path, 0); err != nil {
				t.Fatal(err)
			}
			b, _ = s.Bucket("b")
			b2, _ = s.Bucket("c")
			check(round)
		}
	}
	s.Close()
}

// Stats.Writes counts the puts and deletes in commits: a batch rolled back
// because it changed nothing (every put refused) counts in neither.
func TestRolledBackWritesAreNotCounted(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "kv.db"), 200)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b, _ := s.Bucket("b")
	if err := b.Put([]byte("k"), make([]byte, 100), 0); err != nil {
		t.Fatal(err)
	}
	before := s.Stats()
	for range 10 {
		if err := b.Put([]byte("x"), make([]byte, 100), 0); !errors.Is(err, ErrFull) {
			t.Fatal(err)
		}
	}
	st := s.Stats()
	t.Logf("10 refused puts: commits +%d, writes +%d", st.Commits-before.Commits, st.Writes-before.Writes)
	if st.Writes != before.Writes || st.Commits != before.Commits {
		t.Errorf("10 refused puts counted %d writes in %d commits; want none", st.Writes-before.Writes, st.Commits-before.Commits)
	}
}
