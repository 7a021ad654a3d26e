package api

import (
	"errors"
	"strings"
)

// ErrNotWasm is returned when the bytes given as a module do not start with
// the WebAssembly magic number.
var ErrNotWasm = errors.New("not a WebAssembly module")

// ErrInvalidModule is returned, wrapped with the validator's message, when a
// module is WebAssembly but malformed or ill-typed.
var ErrInvalidModule = errors.New("invalid module")

// ErrModuleShape is returned, wrapped with the limit and where the module
// passes it, when a module is larger or more deeply nested than the node
// compiles (isle.Config.ModuleLimits): it is refused before compiling.
var ErrModuleShape = errors.New("module shape")

// MissingImportsError lists the imports a module needs that isle does not
// provide. Such a module cannot be spawned.
type MissingImportsError struct {
	// Missing holds "module.name" for each import, in the module's order.
	Missing []string
}

// Error implements error.
func (e *MissingImportsError) Error() string {
	return "module imports what isle does not provide: " + strings.Join(e.Missing, ", ")
}
