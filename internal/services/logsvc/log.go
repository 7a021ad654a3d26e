// Package logsvc is the log capability: structured records through the
// node's log/slog logger, tagged with the process that wrote them.
package logsvc

import (
	"context"
	"log/slog"

	"github.com/tetratelabs/wazero/api"

	"github.com/isle-run/isle/internal/abi"
	"github.com/isle-run/isle/internal/kernel"
)

// Log is the object behind a KindLog capability.
type Log struct{ l *slog.Logger }

// New logs to l.
func New(l *slog.Logger) *Log { return &Log{l: l} }

// MaxRecord bounds one record's message, so that a guest cannot make the
// host format and store megabytes per call.
const MaxRecord = 16 << 10

// Funcs is the log's part of the isle host module.
func Funcs() []abi.Func {
	return []abi.Func{{Name: "log_write", Params: abi.I32s(4), Results: abi.RetI32, Fn: write}}
}

// write(h, level, ptr, len) logs the message at the slog level (-4 debug,
// 0 info, 4 warn, 8 error), with the process's id and module as attributes.
func write(ctx context.Context, mod api.Module, stack []uint64) {
	c := abi.Enter(ctx, mod, "log_write")
	level := slog.Level(int32(uint32(stack[1])))
	msg := c.Bytes(uint32(stack[2]), uint32(stack[3]))
	obj, code := c.Use(uint32(stack[0]), kernel.KindLog, kernel.RightUse)
	if code != 0 {
		abi.SetResult(stack, code)
		return
	}
	if len(msg) > MaxRecord {
		abi.SetResult(stack, abi.ETooBig)
		return
	}
	obj.(*Log).l.LogAttrs(ctx, level, string(msg),
		slog.Uint64("pid", c.P.ID), slog.String("module", c.P.Module().Name))
	abi.SetResult(stack, 0)
}
