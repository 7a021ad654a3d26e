package wasip1

import (
	"encoding/binary"
	"io"

	"github.com/tetratelabs/wazero/api"
)

// ClockMonotonic is the id of WASI's monotonic clock, for Clock.Now.
const ClockMonotonic = clockMonotonic

// HostFunc returns the host function that implements the WASI function
// name, with its signature, for a host module that exposes only some of
// WASI (such as the one an init snapshot runs against). ok is false for a
// name WASI preview1 does not have, and for proc_exit, which ends the
// caller rather than returning.
func HostFunc(name string, lookup Lookup) (f api.GoModuleFunc, params, results []api.ValueType, ok bool) {
	for _, d := range functions {
		if d.name == name {
			return wrap(d, lookup), types(d.params), []api.ValueType{api.ValueTypeI32}, true
		}
	}
	return nil, nil, nil, false
}

// InitView writes what a guest can learn from its WASI state before it
// does anything that changes it: its arguments, environment, the names of
// its preopens, which standard streams are terminals, its kind of clock
// and whether it has entropy. Two processes with the same view (and the
// same clock readings and entropy) run the same initialisation.
func InitView(cfg *Config, w io.Writer) {
	var buf []byte
	str := func(s string) { buf = append(binary.AppendUvarint(buf, uint64(len(s))), s...) }
	flag := func(b bool) {
		if b {
			buf = append(buf, 1)
		} else {
			buf = append(buf, 0)
		}
	}
	buf = binary.AppendUvarint(buf, uint64(len(cfg.Args)))
	for _, a := range cfg.Args {
		str(a)
	}
	buf = binary.AppendUvarint(buf, uint64(len(cfg.Env)))
	for _, e := range cfg.Env {
		str(e[0])
		str(e[1])
	}
	buf = binary.AppendUvarint(buf, uint64(len(cfg.Preopens)))
	for _, p := range cfg.Preopens {
		str(p.Path)
	}
	for i, t := range Terminals(cfg) {
		flag(t || cfg.Terminals[i])
	}
	flag(cfg.Clock == nil || cfg.Clock.Virtual())
	flag(cfg.Random != nil)
	_, _ = w.Write(buf)
}

// Terminals reports which of the configuration's standard streams are
// terminals.
func Terminals(cfg *Config) [3]bool {
	return [3]bool{isTerminal(cfg.Stdin), isTerminal(cfg.Stdout), isTerminal(cfg.Stderr)}
}

// NewVirtualClockAt returns a virtual clock that has already reached ns
// past its epoch: a clone of a snapshot goes on from the snapshot's time.
func NewVirtualClockAt(ns int64) Clock { return &virtualClock{ns: max(ns, 0)} }
