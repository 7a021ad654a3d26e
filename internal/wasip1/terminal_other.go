//go:build !linux

package wasip1

import "os"

// terminal approximates isatty(3) by the file's type.
func terminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
