// Package logsvc is the log capability: structured records through the
// node's log/slog logger, tagged with the process that wrote them.
package logsvc

import (
	"context"
	"log/slog"

	"github.com/tetratelabs/wazero/api"

	isleapi "github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/abi"
	"github.com/isle-run/isle/internal/capkind"
)

// Kind is the log capability's kind.
const Kind capkind.Kind = 8

func init() {
	capkind.Register(&capkind.Descriptor{
		Kind:    Kind,
		Name:    "log",
		Summary: "the node's structured log",
		Rights:  capkind.Use,
		Parse:   capkind.NoSpec,
		Open:    open,
		Funcs:   []capkind.Func{{Name: "log_write", Params: capkind.I32s("h", "level", "ptr", "len"), Result: true, Fn: write}},
		Hint:    "grant a log capability",
	})
}

// open shares one Log per node, over the node's logger.
func open(env *capkind.Env, _ any, _ isleapi.Rights) (any, func(), error) {
	l, err := env.Shared("log", func() (any, error) { return New(env.Log), nil })
	return l, nil, err
}

// Log is the object behind a log capability.
type Log struct{ l *slog.Logger }

// New logs to l.
func New(l *slog.Logger) *Log { return &Log{l: l} }

// MarkKey and Mark are the attribute every record of the log capability
// carries, so that a handler can tell them from the node's own records.
const (
	MarkKey = "cap"
	Mark    = "log"
)

// sourceKey is the context key under which write passes a record's
// source, the writer's process tree, to the node's handler.
type sourceKey struct{}

// Source returns the process tree whose log capability logged with ctx
// (a *kernel.Group), or nil for any other record. The node's log ring
// shares itself out by source.
func Source(ctx context.Context) any {
	if ctx == nil {
		return nil
	}
	return ctx.Value(sourceKey{})
}

// MaxRecord bounds one record's message, so that a guest cannot make the
// host format and store megabytes per call.
const MaxRecord = 16 << 10

// write(h, level, ptr, len) logs the message at the slog level (-4 debug,
// 0 info, 4 warn, 8 error), with the process's id, name (its service's, or
// its module's) and module as attributes, and the mark.
func write(ctx context.Context, mod api.Module, stack []uint64) {
	c := abi.Enter(ctx, mod, "log_write")
	a := abi.ArgsOf(stack)
	h, level, ptr, n := a.U32(), slog.Level(a.I32()), a.U32(), a.U32()
	msg := c.Bytes(ptr, n)
	obj, code := c.Use(h, Kind, isleapi.RightUse)
	if code != 0 {
		abi.SetResult(stack, code)
		return
	}
	if len(msg) > MaxRecord {
		abi.SetResult(stack, abi.ETooBig)
		return
	}
	c.P.ChargeBytes(len(msg)) // the host copies and formats it
	obj.(*Log).l.LogAttrs(context.WithValue(ctx, sourceKey{}, c.P.Group()), level, string(msg), slog.Uint64("pid", c.P.ID), slog.String("name", c.P.Name()),
		slog.String("module", c.P.Module().Name), slog.String(MarkKey, Mark))
	abi.SetResult(stack, 0)
}
