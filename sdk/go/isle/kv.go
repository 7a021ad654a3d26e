package isle

import (
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"unsafe"
)

// Bucket is a handle to a key-value bucket of the node's durable store:
// keys of 1 to MaxKVKey bytes (any bytes, in a Go string), values of up
// to MaxKVValue bytes. What a Bucket may do depends on the rights of its
// handle: Get needs api.RightGet, Put api.RightPut, Delete
// api.RightRemove, and List and Keys api.RightList; without the right they
// fail with ErrRights. Narrow a bucket with Dup before passing it on.
//
// Put and Delete return once the change is on stable storage, so a Put
// that returned nil survives a crash of the node. A storage failure is
// ErrIO.
type Bucket struct{ h Handle }

// Limits of the key-value store, as the host enforces them. Longer keys
// and values fail with ErrTooBig.
const (
	MaxKVKey   = 1 << 10
	MaxKVValue = 1 << 20
)

// ErrEmptyKey is returned for an empty key, which no bucket can hold. The
// SDK refuses it before the call: the host treats it as misuse.
var ErrEmptyKey = errors.New("isle: empty key")

// OpenBucket returns the bucket the process was granted under name. It
// fails with ErrNotFound if there is no such grant, and with an error if
// the grant is not a key-value bucket.
func OpenBucket(name string) (Bucket, error) {
	h, err := Grant(name)
	if err != nil {
		return Bucket{}, err
	}
	if k := Inspect(h).Kind; k != KindKV {
		return Bucket{}, fmt.Errorf("isle: grant %q is not a key-value bucket (its kind is %d)", name, k)
	}
	return Bucket{h}, nil
}

// BucketOf wraps a handle that names a key-value bucket, such as one
// received in Message.Handles. Using it with a handle of another kind is
// misuse.
func BucketOf(h Handle) Bucket { return Bucket{h} }

// Handle returns the bucket's handle, to pass in a message.
func (b Bucket) Handle() Handle { return b.h }

// getFirst is the buffer Get tries first: most values fit, and a bigger
// one costs one call to learn its length and one to read it.
const getFirst = 512

// Get returns the value stored under key, or ErrNotFound.
func (b Bucket) Get(key string) ([]byte, error) {
	if key == "" {
		return nil, ErrEmptyKey
	}
	buf := make([]byte, getFirst)
	for {
		r := abiKVGet(uint32(b.h), key, unsafe.Pointer(unsafe.SliceData(buf)), uint32(len(buf)))
		if r >= 0 {
			return buf[:r:r], nil
		}
		if Errno(r) != ErrTooBig || len(key) > MaxKVKey {
			return nil, Errno(r)
		}
		// Too long for buf: ask for the length (a capacity of 0), and
		// try again, since another process may change the value between
		// the two calls.
		n := abiKVGet(uint32(b.h), key, nil, 0)
		if n < 0 {
			return nil, Errno(n)
		}
		buf = make([]byte, max(n, 1))
	}
}

// Put stores value under key, replacing any value there, and returns once
// it is on stable storage. ErrLimit: the put would take the bucket past
// its grant's quota, or the node's store past its bound; nothing was
// written.
func (b Bucket) Put(key string, value []byte) error {
	if key == "" {
		return ErrEmptyKey
	}
	p, n := bytesPtr(value)
	return errno(abiKVPut(uint32(b.h), key, p, n))
}

// Delete removes key, or returns ErrNotFound if it was not there. It
// returns once the removal is on stable storage.
func (b Bucket) Delete(key string) error {
	if key == "" {
		return ErrEmptyKey
	}
	return errno(abiKVDelete(uint32(b.h), key))
}

// List returns every key that starts with prefix, in byte order.
func (b Bucket) List(prefix string) ([]string, error) {
	var keys []string
	for k, err := range b.Keys(prefix, "") {
		if err != nil {
			return keys, err
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// listPage is the buffer Keys reads each page of keys into.
const listPage = 64 << 10

// Keys yields the keys that start with prefix and sort after after (all
// of them if after is empty), in byte order, a page at a time, so a large
// bucket can be walked without holding every key. A failure is yielded
// once, with an empty key, and ends the walk. Keys written during the walk
// may or may not be seen.
func (b Bucket) Keys(prefix, after string) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		buf := make([]byte, listPage)
		for {
			r := abiKVList(uint32(b.h), prefix, after, unsafe.Pointer(unsafe.SliceData(buf)), uint32(len(buf)))
			if r < 0 {
				yield("", Errno(r))
				return
			}
			if r == 0 {
				return
			}
			p := buf
			for range r {
				n := int(binary.LittleEndian.Uint16(p))
				after = string(p[2 : 2+n])
				p = p[2+n:]
				if !yield(after, nil) {
					return
				}
			}
		}
	}
}
