package isle_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/testwasm"
)

// A service made with NewService can be published and looked up before
// its tree starts; a call made then waits for its first instance.
func TestClusterServiceBeforeItStarts(t *testing.T) {
	nodes := testCluster(t, "a", "b")
	a, b := nodes[0], nodes[1]
	svc := b.NewService("w")
	if err := b.Publish("w", isle.ServiceCap(svc, api.RightSend), "a"); err != nil {
		t.Fatal(err)
	}
	r, err := a.Lookup(testwasm.Context(t), "b", "w")
	if err != nil {
		t.Fatal(err)
	}
	type answer struct {
		m   isle.Message
		err error
	}
	got := make(chan answer, 1)
	go func() {
		m, err := r.Call(testwasm.Context(t), isle.Message{Tag: rEcho, Data: []byte("early")})
		got <- answer{m, err}
	}()
	mod := load(t, b, testwasm.C(t, "testdata/c/remote.c", "-O2", "-mexec-model=reactor"))
	sup, err := b.Supervise(testwasm.Context(t), isle.SupervisorSpec{Name: "s",
		Children: []isle.ChildSpec{{Name: "w", Module: mod, Service: svc}}})
	if err != nil {
		t.Fatal(err)
	}
	defer sup.Stop(context.Background())
	if s, _ := sup.Service("w"); s != svc {
		t.Fatal("the supervisor made a service of its own instead of the one given")
	}
	ans := testwasm.Await(t, got, "the early call's answer")
	if ans.err != nil || ans.m.Tag != rEcho+100 || string(ans.m.Data) != "early" {
		t.Fatalf("early call: %v %q, %v", ans.m.Tag, ans.m.Data, ans.err)
	}
}

// ServeCluster answers AskCluster from other members; a topic nobody
// serves is an error, not a wait, and a topic must be one word.
func TestClusterAsk(t *testing.T) {
	nodes := testCluster(t, "a", "b")
	a, b := nodes[0], nodes[1]
	stop, err := b.ServeCluster("echo", func(req []byte) []byte { return append([]byte("b:"), req...) })
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	var reply []byte
	testwasm.WaitFor(t, "a to hear that b serves echo", func() bool {
		reply, err = a.AskCluster(testwasm.Context(t), "b", "echo", []byte("hi"))
		return !errors.Is(err, nats.ErrNoResponders)
	})
	if err != nil || string(reply) != "b:hi" {
		t.Fatalf("ask: %q, %v", reply, err)
	}
	ctx, cancel := context.WithTimeout(testwasm.Context(t), time.Minute)
	defer cancel()
	if _, err := a.AskCluster(ctx, "b", "nothing", nil); !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("ask of a topic nobody serves: %v (ctx %v); want an error at once", err, ctx.Err())
	}
	if _, err := b.ServeCluster("a.b", func([]byte) []byte { return nil }); err == nil {
		t.Fatal("a topic with a dot was accepted")
	}
}
