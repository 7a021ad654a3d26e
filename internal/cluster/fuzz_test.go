package cluster

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/json"
	"testing"
	"time"
)

// fuzzIdentity is node "a"'s identity in a new cluster, and node "b"'s.
func fuzzIdentity(f *testing.F) (a, b *identity) {
	f.Helper()
	caCert, caKey, err := NewCA()
	if err != nil {
		f.Fatal(err)
	}
	id := func(name string) *identity {
		c, k, err := Issue(caCert, caKey, name)
		if err != nil {
			f.Fatal(err)
		}
		i, err := newIdentity("test", name, &Credentials{CA: caCert, Cert: c, Key: k})
		if err != nil {
			f.Fatal(err)
		}
		return i
	}
	return id("a"), id("b")
}

// FuzzDecodeBeat feeds arbitrary heartbeats to a node with credentials,
// either whole frames or bodies b signs (keys are random per fuzzing
// process, so frames signed in one do not verify in another): decoding
// never panics, and takes only a body b signed, with b's certificate.
func FuzzDecodeBeat(f *testing.F) {
	a, b := fuzzIdentity(f)
	genuine := &beat{Name: "b", Inc: 7, Ctr: 9, View: []entry{{Name: "a", Inc: 1, Mine: 2, Theirs: 3}}}
	body, err := json.Marshal(genuine)
	if err != nil {
		f.Fatal(err)
	}
	unsigned, err := encodeBeat(nil, genuine)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(body, true)
	f.Add(unsigned, false)
	f.Add([]byte{beatVersion, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, false)
	now := time.Now()
	f.Fuzz(func(t *testing.T, data []byte, sign bool) {
		frame := data
		if sign {
			sig, err := ecdsa.SignASN1(rand.Reader, b.key, b.beatDigest(data))
			if err != nil {
				t.Fatal(err)
			}
			frame = joinBeat(b.cert, data, sig)
		}
		got, mc, err := decodeBeat(a, frame, now)
		if err != nil {
			return
		}
		if !sign || mc == nil || mc.name != "b" || got.Name != "b" {
			t.Fatalf("took a beat of %q that b did not sign (certificate for %v)", got.Name, mc)
		}
	})
}

// fuzzKey is an AES-256-GCM key for the fuzzers.
func fuzzKey(f *testing.F) cipher.AEAD {
	f.Helper()
	blk, err := aes.NewCipher(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		f.Fatal(err)
	}
	aead, err := cipher.NewGCM(blk)
	if err != nil {
		f.Fatal(err)
	}
	return aead
}

// FuzzOpenBatch feeds arbitrary sealed batches to a session's receiving
// key: opening never panics, opens only what was sealed under the key
// and stamp, and only the counter after the last, and a refusal leaves
// the counter where it was.
func FuzzOpenBatch(f *testing.F) {
	aead := fuzzKey(f)
	st := Stamp{To: 3, From: 4}
	out := &ctrKey{aead: aead}
	one := out.seal(nil, st, []byte("one"))
	two := out.seal(nil, st, []byte("two"))
	f.Add(one, uint64(0))
	f.Add(two, uint64(1))
	f.Add(one[:sealedOverhead-1], uint64(0))
	f.Fuzz(func(t *testing.T, sealed []byte, last uint64) {
		in := &ctrKey{aead: aead, n: last}
		plain, err := in.open(st, bytes.Clone(sealed))
		if err != nil {
			if in.n != last {
				t.Fatalf("a refusal moved the counter from %d to %d", last, in.n)
			}
			return
		}
		want := map[string]string{string(one): "one", string(two): "two"}[string(sealed)]
		if string(plain) != want || want == "" {
			t.Fatalf("opened %q from input that was not sealed", plain)
		}
		if in.n != last+1 {
			t.Fatalf("opened counter %d after %d, not the next", in.n, last)
		}
	})
}

// FuzzOpenCtl feeds arbitrary sealed requests to a control key: opening
// never panics, and opens only what was sealed with that key and
// additional data (only "question" ever is; nonces are random, so the
// sealed bytes differ between fuzzing processes).
func FuzzOpenCtl(f *testing.F) {
	aead := fuzzKey(f)
	ad := requestAD("ps", Stamp{To: 1, From: 2})
	req := sealCtl(aead, ad, []byte("question"))
	f.Add(req)
	f.Add(req[:nonceSize])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, sealed []byte) {
		plain, err := openCtl(aead, ad, bytes.Clone(sealed))
		if err == nil && string(plain) != "question" {
			t.Fatalf("opened %q from input that was not sealed", plain)
		}
	})
}
