//go:build !linux

package main

import (
	"errors"
	"os"
)

// cbreak is unsupported here: top then takes no keys.
func cbreak(*os.File) (func(), error) { return nil, errors.New("no cbreak mode on this system") }
