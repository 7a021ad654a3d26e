// Package kv is the key-value capability: named buckets of a node's
// durable store, one bbolt database file under the node's data directory.
//
// A put returns only after its transaction is committed and fsynced, so a
// put that succeeded survives a crash of the node (kill -9, or the machine
// losing power). Puts and deletes from every process go through one
// committer per store, which commits whatever has queued up while the
// previous commit was being flushed in a single transaction: concurrent
// writers share fsyncs (group commit), and a lone writer waits for no
// timer. docs/RATIONALE.md says why bbolt, and why not bbolt's own Batch.
//
// A Bucket is the object behind a kv capability (kind Kind).
package kv

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/isle-run/isle/internal/kernel"
)

// Limits of one bucket entry. bbolt's own are larger (32 KiB keys, 2 GiB
// values); these keep one call's copy and one transaction's memory small.
const (
	MaxKey        = 1 << 10 // bytes in a key
	MaxValue      = 1 << 20 // bytes in a value
	MaxBucketName = 255     // bytes in a bucket's name
	// MaxList bounds the bytes one kv_list writes, so that one call cannot
	// hold a read transaction (which delays a writer that must grow the
	// file) for long.
	MaxList = 1 << 20
)

// EntryOverhead is what each key costs a quota beyond its bytes and its
// value's: about what bbolt stores for it (a 16-byte element header, and
// room its pages leave unfilled), so that a quota bounds the file even
// when every key is tiny.
const EntryOverhead = 64

// entryCost is what a key and its value cost a quota.
func entryCost(key, value []byte) int64 { return int64(len(key) + len(value) + EntryOverhead) }

// A transaction takes at most this many queued writes, or about this many
// bytes of them, so that a burst does not become one huge commit.
const (
	maxBatchOps   = 1024
	maxBatchBytes = 16 << 20
)

// lockTimeout is how long Open waits for another process to let go of the
// file.
var lockTimeout = 2 * time.Second

// Expected failures. A storage failure is anything else; it wraps
// kernel.ErrIO.
var (
	ErrNotFound = errors.New("kv: no such key")
	ErrKeyEmpty = errors.New("kv: empty key")
	ErrTooBig   = errors.New("kv: key or value over the limit")
	ErrClosed   = errors.New("kv: store closed")
	// ErrQuota is a put that would take its bucket past the quota of the
	// grant it came through, and ErrFull one that would take the store
	// past its bound. Nothing was written.
	ErrQuota = errors.New("kv: the put would pass the bucket's quota")
	ErrFull  = errors.New("kv: the put would pass the store's bound")
)

// Store is one node's key-value database.
type Store struct {
	db   *bolt.DB
	path string
	// max bounds size (0: no bound). size is what every entry costs
	// (entryCost); only the committer changes it.
	max  int64
	size atomic.Int64
	// sizes holds, from Open until each bucket is first granted, what its
	// entries cost. Guarded by bmu.
	sizes map[string]int64

	mu      sync.Mutex
	cond    *sync.Cond // signalled when queue grows or the store closes
	queue   []*Write   // writes waiting for the committer, in arrival order
	closed  bool
	stopped chan struct{} // closed when the committer has exited

	// bmu guards buckets, apart from mu so that creating a bucket (a
	// commit) does not hold up writes to the others.
	bmu     sync.Mutex
	buckets map[string]*Bucket

	commits, writes atomic.Uint64
	// gets and lists count reads; puts and deletes count writes queued
	// (guarded by mu, which queueing takes anyway).
	gets, lists   atomic.Uint64
	puts, deletes uint64
}

// Open opens (creating if needed) the database file at path. Puts that
// would take the entries' cost (see EntryOverhead) past max bytes fail
// with ErrFull; 0 means no bound. Open reads every entry once, to know
// what each bucket already holds.
func Open(path string, max int64) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("kv: %w", err)
	}
	_, statErr := os.Stat(path)
	// Another process holding the file (bbolt takes an flock) is an
	// operator's mistake; say so instead of waiting forever.
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout, NoStatistics: true})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("kv: %s is in use by another process", path)
	}
	if err != nil {
		return nil, fmt.Errorf("kv: open %s: %w", path, err)
	}
	if errors.Is(statErr, os.ErrNotExist) {
		// bbolt fsyncs the file, not the directory entry that names it.
		if err := syncDir(filepath.Dir(path)); err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("kv: %w", err)
		}
	}
	s := &Store{db: db, path: path, max: max, buckets: map[string]*Bucket{}, stopped: make(chan struct{})}
	if err := s.measure(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("kv: read %s: %w", path, err)
	}
	s.cond = sync.NewCond(&s.mu)
	go s.commitLoop()
	return s, nil
}

// measure finds what every bucket's entries cost.
func (s *Store) measure() error {
	s.sizes = map[string]int64{}
	var total int64
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, bk *bolt.Bucket) error {
			var n int64
			err := bk.ForEach(func(k, v []byte) error {
				if v == nil {
					v, _ = stored(bk, k)
				}
				n += entryCost(k, v)
				return nil
			})
			s.sizes[string(name)] = n
			total += n
			return err
		})
	})
	s.size.Store(total)
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Close waits for queued writes to commit, then closes the database.
// Writes submitted after Close fail with ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		<-s.stopped
		return nil
	}
	s.closed = true
	s.cond.Broadcast()
	s.mu.Unlock()
	<-s.stopped
	return s.db.Close()
}

// Stats counts the store's work since it was opened.
type Stats struct {
	Commits uint64 // write transactions committed or failed; not those that changed nothing
	Writes  uint64 // puts and deletes in them
	// Gets, Puts, Deletes and Lists count the operations asked of the
	// store (kv_get, kv_put, kv_delete and kv_list), whatever their outcome
	// once the key was valid.
	Gets, Puts, Deletes, Lists uint64
	// Size is what the store's entries cost (see EntryOverhead), and Max
	// its bound (0: none).
	Size, Max int64
}

// Stats reports the store's work so far. Writes/Commits is how many
// writes, on average, shared each fsync.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	puts, deletes := s.puts, s.deletes
	s.mu.Unlock()
	return Stats{Commits: s.commits.Load(), Writes: s.writes.Load(),
		Gets: s.gets.Load(), Puts: puts, Deletes: deletes, Lists: s.lists.Load(), Size: s.size.Load(), Max: s.max}
}

// Bucket returns the bucket called name, creating it (durably) if it does
// not exist. Every call with one name returns the same *Bucket.
func (s *Store) Bucket(name string) (*Bucket, error) {
	if name == "" || len(name) > MaxBucketName {
		return nil, fmt.Errorf("kv: bucket name must be 1 to %d bytes, not %d", MaxBucketName, len(name))
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	s.bmu.Lock()
	defer s.bmu.Unlock()
	if b, ok := s.buckets[name]; ok {
		return b, nil
	}
	// Check before creating, so that a grant of an existing bucket costs
	// no commit.
	var exists bool
	if err := s.db.View(func(tx *bolt.Tx) error {
		exists = tx.Bucket([]byte(name)) != nil
		return nil
	}); err != nil {
		return nil, ioErr(err)
	}
	if !exists {
		if err := s.db.Update(func(tx *bolt.Tx) error {
			_, err := tx.CreateBucketIfNotExists([]byte(name))
			return err
		}); err != nil {
			return nil, ioErr(err)
		}
	}
	b := &Bucket{s: s, name: []byte(name)}
	b.size.Store(s.sizes[name])
	delete(s.sizes, name)
	s.buckets[name] = b
	return b, nil
}

// ioErr marks a storage failure, which the ABI reports as EIO.
func ioErr(err error) error { return fmt.Errorf("%w: %w", kernel.ErrIO, err) }

// Bucket is one named bucket of a Store: the object of a kv
// capability. It is safe for concurrent use.
type Bucket struct {
	s    *Store
	name []byte
	// size is what the bucket's entries cost (entryCost); pending is what
	// the transaction being committed changes it by. Only the committer
	// changes either.
	size    atomic.Int64
	pending int64
}

// Size is what the bucket's entries cost: each key's bytes, its value's,
// and EntryOverhead.
func (b *Bucket) Size() int64 { return b.size.Load() }

// Name is the bucket's name.
func (b *Bucket) Name() string { return string(b.name) }

// checkKey validates a key against the limits.
func checkKey(key []byte) error {
	if len(key) == 0 {
		return ErrKeyEmpty
	}
	if len(key) > MaxKey {
		return ErrTooBig
	}
	return nil
}

// View calls fn with the value stored under key, or returns ErrNotFound.
// The value is only valid during fn: it is the database's own memory.
func (b *Bucket) View(key []byte, fn func(value []byte)) error {
	if err := checkKey(key); err != nil {
		return err
	}
	b.s.gets.Add(1)
	found := false
	err := b.s.db.View(func(tx *bolt.Tx) error {
		bk := tx.Bucket(b.name)
		if bk == nil {
			return nil
		}
		var v []byte
		if v, found = stored(bk, key); found {
			fn(v)
		}
		return nil
	})
	if err != nil {
		return ioErr(err)
	}
	if !found {
		return ErrNotFound
	}
	return nil
}

// Get returns a copy of the value stored under key, or ErrNotFound.
func (b *Bucket) Get(key []byte) ([]byte, error) {
	var out []byte
	err := b.View(key, func(v []byte) { out = append([]byte{}, v...) })
	return out, err
}

// Put stores value under key and returns once the write is committed and
// flushed to stable storage. key and value are copied. A put that would
// take the bucket's entries past quota bytes (0: none) fails with
// ErrQuota, and one that would take the store's past its bound with
// ErrFull; one that adds nothing, such as a smaller value over a larger,
// never fails so.
func (b *Bucket) Put(key, value []byte, quota int64) error {
	o, err := b.StartPut(key, value, quota)
	if err != nil {
		return err
	}
	<-o.Done()
	return o.Err()
}

// Delete removes key, returning ErrNotFound if it was not there, once the
// removal is committed and flushed.
func (b *Bucket) Delete(key []byte) error {
	o, err := b.StartDelete(key)
	if err != nil {
		return err
	}
	<-o.Done()
	return o.Err()
}

// Write is a queued put or delete. Wait on Done, then read Err.
type Write struct {
	b      *Bucket
	quota  int64
	delete bool
	key    []byte
	value  []byte
	done   chan struct{}
	err    error
}

// Done is closed once the write is committed and flushed, or has failed.
func (o *Write) Done() <-chan struct{} { return o.done }

// Err is the write's outcome, once Done is closed: nil, ErrNotFound (a
// delete of a missing key), ErrQuota or ErrFull (a put that did not fit),
// or a storage failure wrapping kernel.ErrIO.
func (o *Write) Err() error { return o.err }

// StartPut queues a put, as Put does, and returns without waiting for
// it, so that a caller can wait in its own way (a process's wait is
// interruptible by a kill). key and value are copied: the caller's memory
// may go away before the commit.
func (b *Bucket) StartPut(key, value []byte, quota int64) (*Write, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	if len(value) > MaxValue {
		return nil, ErrTooBig
	}
	buf := make([]byte, len(key)+len(value))
	copy(buf, key)
	copy(buf[len(key):], value)
	return b.s.submit(&Write{b: b, quota: quota, key: buf[:len(key):len(key)], value: buf[len(key):], done: make(chan struct{})})
}

// StartDelete queues a delete, as StartPut queues a put.
func (b *Bucket) StartDelete(key []byte) (*Write, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	return b.s.submit(&Write{b: b, delete: true, key: bytes.Clone(key), done: make(chan struct{})})
}

func (s *Store) submit(o *Write) (*Write, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	s.queue = append(s.queue, o)
	if o.delete {
		s.deletes++
	} else {
		s.puts++
	}
	s.cond.Signal()
	return o, nil
}

// commitLoop is the store's one writer. Whatever queued while it was
// committing goes into the next transaction together, so N concurrent
// writers pay for about one fsync each round instead of N; a lone writer
// is committed at once.
func (s *Store) commitLoop() {
	defer close(s.stopped)
	for {
		s.mu.Lock()
		for len(s.queue) == 0 && !s.closed {
			s.cond.Wait()
		}
		if len(s.queue) == 0 {
			s.mu.Unlock()
			return // closed, and everything queued is committed
		}
		n, size := 0, 0
		for n < len(s.queue) && n < maxBatchOps && (n == 0 || size+len(s.queue[n].key)+len(s.queue[n].value) <= maxBatchBytes) {
			size += len(s.queue[n].key) + len(s.queue[n].value)
			n++
		}
		batch := s.queue[:n:n]
		s.queue = s.queue[n:]
		if len(s.queue) == 0 {
			s.queue = nil // let the old array go
		}
		s.mu.Unlock()
		if testHookBeforeCommit != nil {
			testHookBeforeCommit()
		}
		s.commit(batch)
	}
}

// errUnchanged rolls back a transaction that would change nothing.
var errUnchanged = errors.New("kv: nothing to commit")

// testHookBeforeCommit, when set (by tests, before Open), runs before each
// commit, so a test can hold the committer while writes queue up.
var testHookBeforeCommit func()

// commit applies a batch in one transaction, in order, and completes every
// write in it. A failed commit fails every write in the batch: none of
// them is stored. A put that does not fit its quota or the store's bound
// fails alone, and the rest of the batch goes on.
//
// A batch that changes nothing (every put refused, every delete of a
// missing key) is rolled back, not committed: a guest at its quota putting
// in a loop would otherwise make the store write and fsync a transaction
// for every refused put, at no cost to itself.
func (s *Store) commit(batch []*Write) {
	var total int64 // what the transaction changes s.size by
	changed := false
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, o := range batch {
			o.err = nil
			bk := tx.Bucket(o.b.name)
			if bk == nil {
				return fmt.Errorf("bucket %q is missing", o.b.name)
			}
			old, exists := stored(bk, o.key)
			var delta int64
			if exists {
				delta = -entryCost(o.key, old)
			}
			if o.delete {
				if !exists {
					o.err = ErrNotFound
					continue
				}
				if err := remove(bk, o.key); err != nil {
					return err
				}
			} else {
				delta += entryCost(o.key, o.value)
				if o.err = s.fits(o, delta, total); o.err != nil {
					continue
				}
				if err := store(bk, o.key, o.value); err != nil {
					return err
				}
			}
			o.b.pending += delta
			total += delta
			changed = true
		}
		if !changed {
			return errUnchanged
		}
		return nil
	})
	if errors.Is(err, errUnchanged) {
		err = nil
	} else {
		s.commits.Add(1)
		s.writes.Add(uint64(len(batch)))
		if err == nil {
			s.size.Add(total)
		}
	}
	for _, o := range batch {
		if err == nil {
			o.b.size.Add(o.b.pending)
		} else {
			o.err = ioErr(err)
		}
		o.b.pending = 0
		o.value = nil
		close(o.done)
	}
}

// fits reports whether a put that changes what its bucket's entries cost
// by delta fits its quota and the store's bound, total being what the
// transaction has changed the store's by so far.
//
// Precondition: called by the committer.
func (s *Store) fits(o *Write, delta, total int64) error {
	switch {
	case delta <= 0:
		return nil
	case o.quota > 0 && o.b.size.Load()+o.b.pending+delta > o.quota:
		return ErrQuota
	case s.max > 0 && s.size.Load()+total+delta > s.max:
		return ErrFull
	}
	return nil
}

// List calls fn with each key in the bucket that starts with prefix and
// sorts after after (every key, if after is empty), in byte order, until
// fn returns false. The key is only valid during fn.
func (b *Bucket) List(prefix, after []byte, fn func(key []byte) bool) error {
	b.s.lists.Add(1)
	err := b.s.db.View(func(tx *bolt.Tx) error {
		bk := tx.Bucket(b.name)
		if bk == nil {
			return nil
		}
		c := bk.Cursor()
		start := prefix
		if bytes.Compare(after, prefix) > 0 {
			start = after
		}
		for k, _ := c.Seek(start); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			if len(after) > 0 && bytes.Compare(k, after) <= 0 {
				continue
			}
			if !fn(k) {
				break
			}
		}
		return nil
	})
	if err != nil {
		return ioErr(err)
	}
	return nil
}
