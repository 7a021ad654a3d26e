//go:build !unix

package testwasm

// lockFile does nothing where flock is missing: builds still write through
// a temporary file and a rename, so two processes building the same
// fixture at once waste time but stay correct.
func lockFile(string) (func(), error) { return func() {}, nil }
