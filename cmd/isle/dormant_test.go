package main

import (
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/isle-run/isle/internal/testwasm"
)

// isle up puts an idle service's reactor to sleep, and ps --json and
// inspect say so; isle up --keep-instances never does. The node with the
// flag starts first, so its service has been idle longer when the other's
// is seen dormant: had the flag not reached the node, its service would
// be dormant too.
func TestUpDormantAndKeepInstances(t *testing.T) {
	t.Parallel()
	rtKeep, rt := runtimeDir(t), runtimeDir(t)
	keep, _ := upApp(t, rtKeep, "--keep-instances")
	node, _ := upApp(t, rt)
	var pid uint64
	testwasm.WaitFor(t, "the idle helper to go dormant", func() bool {
		h := service(t, snapshot(t, rt), "helper")
		pid = h.PID
		return h.Dormant
	})
	r := ctl(t, rt, nil, "inspect", strconv.FormatUint(pid, 10))
	r.want(t, 0)
	if !strings.Contains(r.stdout, "(dormant: no instance until its next message)") {
		t.Errorf("isle inspect of a dormant helper:\n%s", r.stdout)
	}
	for _, name := range []string{"helper", "collector"} {
		if p := service(t, snapshot(t, rtKeep), name); p.Dormant {
			t.Errorf("isle up --keep-instances: %s is dormant: %+v", name, p)
		}
	}
	for _, n := range []*started{node, keep} {
		if status := n.stop(t, syscall.SIGTERM); status != 0 {
			t.Fatalf("status %d", status)
		}
	}
}
