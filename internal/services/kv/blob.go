package kv

import (
	"bytes"

	bolt "go.etcd.io/bbolt"
)

// A value of outOfLine bytes or more is stored alone: as the one entry of
// a bucket nested under its key, whose pages hold nothing else. bbolt
// rewrites a whole leaf, overflow included, when any key in it changes,
// and a leaf holds at least two entries, so in line a one-byte put beside
// two 1 MiB values rewrote 2 MiB. Stored alone, a large value is written
// when it is put and freed when it is replaced, and the leaves its
// neighbours share hold at most a few KiB. bbolt keeps a nested bucket of
// over a quarter of a page in pages of its own, so at 2 KiB a value
// alone wastes at most half of what it takes on disk.
const outOfLine = 2 << 10

// blobKey is the key of the one entry of a value stored alone.
var blobKey = []byte{0}

// stored returns the value under key in bk, and whether there is one.
func stored(bk *bolt.Bucket, key []byte) ([]byte, bool) {
	// A cursor tells a stored empty value from a missing key, which Get's
	// nil does not promise to, and gives nil for a nested bucket.
	k, v := bk.Cursor().Seek(key)
	if k == nil || !bytes.Equal(k, key) {
		return nil, false
	}
	if v == nil {
		if alone := bk.Bucket(key); alone != nil {
			return alone.Get(blobKey), true
		}
	}
	return v, true
}

// store puts value under key in bk, in line or alone, replacing whatever
// was there.
//
// Precondition: bk is in a writable transaction.
func store(bk *bolt.Bucket, key, value []byte) error {
	if bk.Bucket(key) != nil {
		if err := bk.DeleteBucket(key); err != nil {
			return err
		}
	}
	if len(value) < outOfLine {
		return bk.Put(key, value)
	}
	if err := bk.Delete(key); err != nil { // an in-line value it replaces
		return err
	}
	alone, err := bk.CreateBucket(key)
	if err != nil {
		return err
	}
	return alone.Put(blobKey, value)
}

// remove deletes key from bk, stored in line or alone.
//
// Precondition: bk is in a writable transaction, and holds key.
func remove(bk *bolt.Bucket, key []byte) error {
	if bk.Bucket(key) != nil {
		return bk.DeleteBucket(key)
	}
	return bk.Delete(key)
}
