// Command kv exercises the Go SDK's key-value bucket from a guest. It is
// granted "kv" (every right), "ro" (get only), "other" (a second bucket),
// "clock" (not a bucket) and, if its run sets one, "small" (a bucket with
// a quota of 1 MiB). It prints "ok NAME" for each check that holds
// and "FAIL NAME: why" for each that does not, and exits 1 if any failed.
package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/isle-run/isle/api"
	"github.com/isle-run/isle/sdk/go/isle"
)

var failed bool

func check(name string, ok bool, format string, args ...any) {
	if ok {
		fmt.Println("ok", name)
		return
	}
	failed = true
	fmt.Printf("FAIL %s: %s\n", name, fmt.Sprintf(format, args...))
}

func must[T any](v T, err error) T {
	if err != nil {
		fmt.Println("FAIL setup:", err)
		os.Exit(1)
	}
	return v
}

func main() {
	kv := must(isle.OpenBucket("kv"))
	ro := must(isle.OpenBucket("ro"))
	other := must(isle.OpenBucket("other"))

	_, err := isle.OpenBucket("nope")
	check("open-missing", errors.Is(err, isle.ErrNotFound), "got %v", err)
	_, err = isle.OpenBucket("clock")
	check("open-wrong-kind", err != nil && strings.Contains(err.Error(), "not a key-value bucket"), "got %v", err)

	err = kv.Put("greeting", []byte("hello"))
	v, gerr := kv.Get("greeting")
	check("put-get", err == nil && gerr == nil && string(v) == "hello", "put %v, get %q %v", err, v, gerr)

	_, err = kv.Get("absent")
	check("get-missing", errors.Is(err, isle.ErrNotFound), "got %v", err)

	err = kv.Put("empty", nil)
	v, gerr = kv.Get("empty")
	check("empty-value", err == nil && gerr == nil && v != nil && len(v) == 0, "put %v, get %q %v", err, v, gerr)

	// Bigger than Get's first buffer, so it takes the length-probe path.
	big := bytes.Repeat([]byte("0123456789abcdef"), 40_000) // 640,000 bytes
	err = kv.Put("big", big)
	v, gerr = kv.Get("big")
	check("big-value", err == nil && gerr == nil && bytes.Equal(v, big), "put %v, get %d bytes %v", err, len(v), gerr)

	err = kv.Put("max", make([]byte, isle.MaxKVValue))
	check("max-value", err == nil, "got %v", err)
	err = kv.Put("over", make([]byte, isle.MaxKVValue+1))
	check("value-too-big", errors.Is(err, isle.ErrTooBig), "got %v", err)
	long := strings.Repeat("k", isle.MaxKVKey+1)
	err = kv.Put(long, nil)
	_, gerr = kv.Get(long)
	check("key-too-big", errors.Is(err, isle.ErrTooBig) && errors.Is(gerr, isle.ErrTooBig), "put %v, get %v", err, gerr)
	check("empty-key", errors.Is(kv.Put("", nil), isle.ErrEmptyKey), "an empty key was not refused")

	err = kv.Put("greeting", []byte("hi again"))
	v, _ = kv.Get("greeting")
	check("overwrite", err == nil && string(v) == "hi again", "got %q %v", v, err)

	err = kv.Delete("greeting")
	_, gerr = kv.Get("greeting")
	derr := kv.Delete("greeting")
	check("delete", err == nil && errors.Is(gerr, isle.ErrNotFound) && errors.Is(derr, isle.ErrNotFound),
		"delete %v, get after %v, delete again %v", err, gerr, derr)

	// Enough keys, long enough, to need several pages of kv_list.
	var want []string
	for i := range 300 {
		want = append(want, fmt.Sprintf("user/%04d/%s", i, strings.Repeat("x", 400)))
	}
	for i, k := range want {
		if err := kv.Put(k, []byte{byte(i)}); err != nil {
			check("list-setup", false, "put %d: %v", i, err)
			break
		}
	}
	keys, err := kv.List("user/")
	check("list-pages", err == nil && slices.Equal(keys, want), "got %d keys, %v", len(keys), err)
	keys, err = kv.List("user/0299")
	check("list-prefix", err == nil && len(keys) == 1 && keys[0] == want[299], "got %d keys, %v", len(keys), err)
	var after []string
	for k, err := range kv.Keys("user/", want[297]) {
		if err != nil {
			break
		}
		after = append(after, k)
	}
	check("keys-after", slices.Equal(after, want[298:]), "got %d keys", len(after))
	all, err := kv.List("")
	check("list-all", err == nil && len(all) == 3+300, "got %d keys, %v", len(all), err) // big, empty, max and the users
	keys, err = kv.List("nothing-here/")
	check("list-none", err == nil && len(keys) == 0, "got %v, %v", keys, err)

	// Rights: the read-only handle reads, and is refused the rest with an
	// error, not abandonment.
	_, gerr = ro.Get("max")
	check("ro-get", gerr == nil, "got %v", gerr)
	err = ro.Put("x", []byte("y"))
	derr = ro.Delete("max")
	_, lerr := ro.List("")
	check("ro-refused", errors.Is(err, isle.ErrRights) && errors.Is(derr, isle.ErrRights) && errors.Is(lerr, isle.ErrRights),
		"put %v, delete %v, list %v", err, derr, lerr)

	// A handle narrowed with Dup keeps only what it was given.
	h, err := isle.Dup(kv.Handle(), api.RightGet)
	narrow := isle.BucketOf(h)
	_, gerr = narrow.Get("max")
	perr := narrow.Put("max", nil)
	check("dup-narrows", err == nil && gerr == nil && errors.Is(perr, isle.ErrRights), "dup %v, get %v, put %v", err, gerr, perr)

	// Another bucket is another namespace.
	err = other.Put("max", []byte("other's"))
	v, gerr = other.Get("max")
	mine, _ := kv.Get("max")
	check("buckets-separate", err == nil && gerr == nil && string(v) == "other's" && len(mine) == isle.MaxKVValue,
		"other %q %v, mine %d bytes", v, gerr, len(mine))

	// A grant with a quota refuses puts past it, and a delete makes room.
	if small, err := isle.OpenBucket("small"); err == nil {
		n := 0
		for ; n < 100; n++ {
			if err = small.Put(fmt.Sprint("k", n), make([]byte, 100_000)); err != nil {
				break
			}
		}
		// Each costs 100,000 bytes, 2 of key and 64: ten fit in 1 MiB.
		check("quota", errors.Is(err, isle.ErrLimit) && n == 10, "%d puts of 100 kB under a 1 MiB quota, then %v", n, err)
		derr := small.Delete("k0")
		err = small.Put("k0", make([]byte, 100_000))
		check("quota-delete", derr == nil && err == nil, "delete %v, then put %v", derr, err)
	}

	if failed {
		os.Exit(1)
	}
}
