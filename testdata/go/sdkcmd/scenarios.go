package main

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/isle-run/isle/api"
	"github.com/isle-run/isle/sdk/go/isle"
)

// both: a Go command spawns a Go reactor and a C reactor and calls both;
// the Go reactor spawns a Go command from inside a turn.
func both() {
	ctx, cancel := within(20 * time.Second)
	defer cancel()
	sp := spawner()
	reactors := []struct {
		name string
		p    isle.Process
	}{
		{"go", must(isle.Spawn(sp, "reactor", nil, isle.Linked()))},
		{"c", must(isle.Spawn(sp, "echo", nil, isle.Linked()))},
	}
	big := make([]byte, 300_000) // over both the SDK's 64 KiB buffer and the reactors' inboxes
	for i := range big {
		big[i] = byte(i * 7)
	}
	for _, r := range reactors {
		want := "hello " + r.name
		m, err := r.p.Call(ctx, tagEcho, []byte(want))
		check("call-"+r.name, err == nil && m.Tag == tagEcho && string(m.Data) == want, "%q %v", m.Data, err)
		m, err = r.p.Call(ctx, tagEcho, big)
		check("big-"+r.name, err == nil && bytes.Equal(m.Data, big), "%d bytes, %v", len(m.Data), err)
	}
	goR := reactors[0].p
	m, err := goR.Call(ctx, tagMainRan, nil)
	check("reactor-main-not-run", err == nil && string(m.Data) == "false", "%q %v", m.Data, err)
	m, err = goR.Call(ctx, tagSpawnCmd, []byte("hello"))
	want := `hello="hi from child" down=normal code=7 sameref=true`
	check("reactor-spawns-command", err == nil && string(m.Data) == want, "%q %v", m.Data, err)
	_, err = goR.Call(ctx, tagDecline, nil)
	check("reactor-decline", errors.Is(err, isle.ErrGone), "%v", err)
	m, err = goR.Call(ctx, tagBigReply, nil)
	check("reply-too-big", err == nil && string(m.Data) == isle.ErrTooBig.Error(), "%q %v", m.Data, err)
}

// copyScenario: the receiver gets what was sent, whatever the sender does
// to its buffer afterwards.
func copyScenario() {
	ctx, cancel := within(20 * time.Second)
	defer cancel()
	goR := must(isle.Spawn(spawner(), "reactor", nil, isle.Linked()))
	buf := []byte("original")
	must(0, goR.Send(tagStore, buf))
	copy(buf, "MUTATED!")
	must(0, goR.Send(tagStore, buf))
	// One buffer, rewritten before each send.
	one := make([]byte, 1)
	for i := range 100 {
		one[0] = byte(i)
		must(0, goR.Send(tagStore, one))
	}
	m, err := goR.Call(ctx, tagStored, nil)
	want := []byte("originalMUTATED!")
	for i := range 100 {
		want = append(want, byte(i))
	}
	check("copy-to-reactor", err == nil && bytes.Equal(m.Data, want), "%q %v", m.Data, err)

	// To itself: the command's receive path.
	self := isle.Self()
	buf = []byte("first")
	must(0, self.Send(1, buf))
	copy(buf, "XXXXX")
	must(0, self.Send(2, []byte("second")))
	m1 := must(isle.Receive(ctx))
	m2 := must(isle.Receive(ctx))
	check("copy-to-self", string(m1.Data) == "first" && string(m2.Data) == "second",
		"%q %q", m1.Data, m2.Data)

	// A payload bigger than the SDK's buffer comes whole (ETOOBIG + msg_read).
	big := bytes.Repeat([]byte("0123456789abcdef"), 50_000) // 800,000 bytes
	must(0, self.Send(3, big))
	clear(big[:100])
	m3 := must(isle.Receive(ctx))
	check("big-to-self", len(m3.Data) == 800_000 && string(m3.Data[:16]) == "0123456789abcdef" &&
		bytes.Equal(m3.Data[100:], big[100:]), "%d bytes", len(m3.Data))
	err = self.Send(4, make([]byte, isle.MaxMessage+1))
	check("too-big", errors.Is(err, isle.ErrTooBig), "%v", err)
}

// order: two senders, thousands of numbered messages each, to this
// command and to a Go reactor; each sender's sequence arrives in order.
func order() {
	const n = 5000
	ctx, cancel := within(60 * time.Second)
	defer cancel()
	goR := must(isle.Spawn(spawner(), "reactor", nil, isle.Linked()))
	var refs []isle.Ref
	for id := uint32(1); id <= 2; id++ {
		s := spawnChild(fmt.Sprintf("sender %d %d", id, n))
		refs = append(refs, must(s.Monitor()))
		must(0, s.Send(tagTargets, nil, isle.WithHandles(isle.Self().Handle(), goR.Handle()), isle.CopyHandles()))
	}
	next := map[uint32]uint32{}
	bad := 0
	for range 2 * n {
		m, err := isle.Receive(ctx, isle.MatchTag(tagSeq))
		if err != nil {
			check("order-command", false, "after %v messages: %v", next, err)
			return
		}
		from, seq := u32at(m.Data, 0), u32at(m.Data, 4)
		if seq != next[from] {
			bad++
		}
		next[from] = seq + 1
	}
	check("order-command", bad == 0 && next[1] == n && next[2] == n, "%d out of order, last %v", bad, next)
	for range refs {
		d := must(isle.Receive(ctx, isle.MatchTag(isle.TagDown)))
		r, _ := d.ExitReason()
		check("sender-exit", r.Normal(), "%v", r)
	}
	// The senders are gone, so everything they sent the reactor is queued
	// ahead of this call.
	m, err := goR.Call(ctx, tagCount, nil)
	check("order-reactor", err == nil && u32at(m.Data, 0) == 2*n && u32at(m.Data, 4) == 0,
		"count %d, violations %d, %v", u32at(m.Data, 0), u32at(m.Data, 4), err)
}

// mailbox: this process runs with a mailbox of 8, which the flooder fills;
// while this one waits for the flooder's answer, not reading, its TrySend
// must hit ErrFull, then its Send waits for room, and nothing is lost.
func mailbox() {
	const more = 200
	ctx, cancel := within(60 * time.Second)
	defer cancel()
	f := spawnChild("flood", isle.WithHandles(isle.Self().Handle()))
	m := must(f.Call(ctx, tagFill, nil))
	accepted := u32at(m.Data, 0)
	check("mailbox-fill", accepted == 8, "%d messages fit before ErrFull", accepted)
	must(f.Call(ctx, tagFlood, u32(more))) // answered once the flooder found the mailbox full
	total := int(accepted) + more
	got, gaps := 0, 0
	for got < total {
		m, err := isle.Receive(ctx, isle.MatchTag(tagSeq))
		if err != nil {
			break
		}
		if u32at(m.Data, 4) != uint32(got) {
			gaps++
		}
		got++
	}
	r := must(f.Call(ctx, tagReport, nil))
	fulls, errs := u32at(r.Data, 0), u32at(r.Data, 4)
	_, err := isle.TryReceive(isle.MatchTag(tagSeq))
	check("mailbox-nothing-lost", got == total && gaps == 0 && errors.Is(err, isle.ErrTimeout),
		"received %d of %d, %d gaps, extra: %v", got, total, gaps, err)
	check("mailbox-blocking-send", fulls > 0 && errs == 0, "%d sends found the mailbox full, %d failed", fulls, errs)
	fmt.Printf("mailbox: accepted=%d received=%d fulls=%d\n", accepted, got, fulls)
}

// gone: sends to a dead process fail with ErrGone, and a caller learns at
// once when its callee can no longer answer.
func gone() {
	// This scenario runs on the real clock, to time the calls below; the
	// host's deadline bounds it, so its own is only a safety net.
	ctx, cancel := within(10 * time.Minute)
	defer cancel()
	dead := spawnChild("exit 0")
	ref := must(dead.Monitor())
	d := must(isle.Receive(ctx, isle.MatchTag(isle.TagDown)))
	check("gone-down", d.Ref() == ref, "ref %d, want %d", d.Ref(), ref)
	_, callErr := dead.Call(ctx, 1, nil)
	sendErr, tryErr := dead.Send(1, nil), dead.TrySend(1, nil)
	check("gone-dead", errors.Is(sendErr, isle.ErrGone) && errors.Is(tryErr, isle.ErrGone) &&
		errors.Is(callErr, isle.ErrGone), "send %v, trysend %v, call %v", sendErr, tryErr, callErr)
	// Once its DOWN has arrived a process is gone, to Kill as to Send. The
	// window is narrow, so try it many times.
	var killErrs []string
	for range 50 {
		p := spawnChild("exit 0")
		must(p.Monitor())
		must(isle.Receive(ctx, isle.MatchTag(isle.TagDown)))
		if err := p.Kill(); !errors.Is(err, isle.ErrGone) {
			killErrs = append(killErrs, fmt.Sprint(err))
		}
		p.Close()
	}
	check("gone-kill-after-down", len(killErrs) == 0, "Kill after DOWN returned %v", killErrs)

	// Each call's deadline is 30 s away; each must fail with ErrGone when
	// the callee can no longer answer, not with the deadline. The host
	// checks the times printed.
	for _, role := range []string{"dropcall exit", "dropcall panic", "queuecall", "decline"} {
		c := spawnChild(role)
		cctx, cancel := within(30 * time.Second)
		start := time.Now()
		_, err := c.Call(cctx, 1, []byte("answer me"))
		elapsed := time.Since(start)
		cancel()
		check("gone-"+strings.ReplaceAll(role, " ", "-"), errors.Is(err, isle.ErrGone), "%v after %v", err, elapsed)
		fmt.Printf("elapsed %s %d\n", strings.ReplaceAll(role, " ", "-"), elapsed.Milliseconds())
		c.Kill()
	}
}

// exits: links and monitors get the exit reason, whatever it is.
func exits() {
	ctx, cancel := within(30 * time.Second)
	defer cancel()
	isle.TrapExits(true)
	cases := []struct {
		role  string
		kind  isle.ExitKind
		code  uint32
		cause api.Cause
		text  string
	}{
		{"exit 0", isle.ExitNormal, 0, 0, "exited with code 0"},
		{"exit 3", isle.ExitNormal, 3, 0, "exited with code 3"},
		{"panic", isle.ExitAbandoned, 0, api.CauseRuntimeAbort, "panic: boom"},
		{"misuse", isle.ExitAbandoned, 0, api.CauseMisuse, "close: handle 12345 is not in the process's handle table"},
		{"wait", isle.ExitKilled, 0, 0, "killed: killed"},
	}
	var last isle.Process
	for _, c := range cases {
		p := spawnChild(c.role, isle.Linked())
		ref := must(p.Monitor())
		if c.role == "wait" {
			must(0, p.Kill())
		}
		e := must(isle.Receive(ctx, isle.MatchTag(isle.TagExit)))
		d := must(isle.Receive(ctx, isle.MatchTag(isle.TagDown)))
		er, eok := e.ExitReason()
		dr, dok := d.ExitReason()
		good := func(r isle.ExitReason) bool {
			return r.Kind == c.kind && r.Code == c.code && r.Cause == c.cause && strings.Contains(r.Text, c.text)
		}
		name := "exit-" + strings.ReplaceAll(c.role, " ", "-")
		check(name+"-link", eok && good(er) && e.From() == p, "%+v from %v (want %v)", er, e.From(), p)
		check(name+"-monitor", dok && good(dr) && d.Ref() == ref, "%+v ref %d (want %d)", dr, d.Ref(), ref)
		last = p
	}
	// last has ended: a new monitor or link gets noproc at once.
	ref := must(last.Monitor())
	d := must(isle.Receive(ctx, isle.MatchTag(isle.TagDown)))
	r, _ := d.ExitReason()
	check("noproc-monitor", r.Kind == isle.ExitNoProc && d.Ref() == ref, "%+v", r)
	must(0, last.Link())
	e := must(isle.Receive(ctx, isle.MatchTag(isle.TagExit)))
	r, _ = e.ExitReason()
	check("noproc-link", r.Kind == isle.ExitNoProc && e.From() == last, "%+v", r)
}

// selective: Receive with a Match skips what does not match and leaves it
// in place, in order.
func selective() {
	ctx, cancel := within(10 * time.Second)
	defer cancel()
	self := isle.Self()
	for _, s := range []struct {
		tag  uint32
		data string
	}{{1, "a"}, {2, "b"}, {3, "c"}, {1, "d"}, {2, "e"}, {3, "f"}, {0x105, "g"}, {0x201, "h"}} {
		must(0, self.Send(s.tag, []byte(s.data)))
	}
	take := func(match ...isle.Match) string {
		m, err := isle.Receive(ctx, match...)
		if err != nil {
			return err.Error()
		}
		return fmt.Sprintf("%x:%s", m.Tag, m.Data)
	}
	got := []string{take(isle.MatchTag(3)), take(isle.MatchTag(3)), take(isle.Match{Tag: 0x100, Mask: 0xF00})}
	short, cancelShort := within(50 * time.Millisecond)
	_, err := isle.Receive(short, isle.MatchTag(99))
	cancelShort()
	check("selective-timeout", errors.Is(err, isle.ErrTimeout), "%v", err)
	for range 5 {
		got = append(got, take())
	}
	_, err = isle.TryReceive()
	want := "3:c 3:f 105:g 1:a 2:b 1:d 2:e 201:h"
	check("selective-order", strings.Join(got, " ") == want && errors.Is(err, isle.ErrTimeout),
		"got %q, then %v", strings.Join(got, " "), err)

	// System messages can be picked out ahead of user messages.
	must(0, self.Send(7, []byte("user")))
	c := spawnChild("exit 0")
	must(c.Monitor())
	d := must(isle.Receive(ctx, isle.MatchSystem))
	u := must(isle.Receive(ctx))
	check("selective-system", d.IsDown() && u.Tag == 7, "got %x then %x", d.Tag, u.Tag)
}

// misc: grants, unknown modules, trap_exits, demonitor, unlink, and
// handles that move.
func misc() {
	ctx, cancel := within(20 * time.Second)
	defer cancel()
	_, err := isle.Grant("no such grant")
	check("grant-not-found", errors.Is(err, isle.ErrNotFound), "%v", err)
	_, err = isle.Spawn(spawner(), "no such module", nil)
	check("spawn-not-found", errors.Is(err, isle.ErrNotFound), "%v", err)
	first, second := isle.TrapExits(true), isle.TrapExits(false)
	check("trap-exits-previous", !first && second, "%v %v", first, second)

	// No DOWN for a cancelled monitor, even once the target has ended.
	c := spawnChild("wait")
	ref1 := must(c.Monitor())
	must(0, isle.Demonitor(ref1))
	ref2 := must(c.Monitor())
	must(0, c.Kill())
	d := must(isle.Receive(ctx, isle.MatchTag(isle.TagDown)))
	_, err = isle.TryReceive(isle.MatchTag(isle.TagDown))
	check("demonitor", d.Ref() == ref2 && errors.Is(err, isle.ErrTimeout), "got ref %d (want %d), then %v", d.Ref(), ref2, err)

	// Unlinked, this process outlives the kill of its former peer.
	c = spawnChild("wait", isle.Linked())
	must(0, c.Unlink())
	must(c.Monitor())
	must(0, c.Kill())
	d = must(isle.Receive(ctx, isle.MatchTag(isle.TagDown)))
	r, _ := d.ExitReason()
	check("unlink", r.Kind == isle.ExitKilled, "%+v", r)

	// A moved handle works in its new place and is gone from the old one.
	u := spawnChild("usemoved")
	must(u.Monitor())
	d = must(isle.Receive(ctx, isle.MatchTag(isle.TagDown)))
	r, _ = d.ExitReason()
	check("handle-moved", r.Kind == isle.ExitAbandoned && r.Cause == api.CauseMisuse &&
		strings.Contains(r.Text, "kill: handle") && strings.Contains(r.Text, "is not in the process's handle table"), "%+v", r)
}

// quota: spawn until the tree's process quota (3 with this process, set
// by the host) stops it.
func quota() {
	var n int
	for ; n < 10; n++ {
		if _, err := isle.Spawn(spawner(), "sdkcmd", []byte("wait")); err != nil {
			check("quota", errors.Is(err, isle.ErrLimit) && n == 2, "spawn %d: %v", n, err)
			return
		}
	}
	check("quota", false, "10 children spawned under a quota of 3")
}

// linkdie: linked to a child in the role given by the second argument,
// without trapping exits. The host checks whether this process survives.
func linkdie() {
	ctx, cancel := within(20 * time.Second)
	defer cancel()
	p := spawnChild(strings.Join(argsFrom(2), " "), isle.Linked())
	ref := must(p.Monitor())
	m := must(isle.Receive(ctx, isle.MatchTag(isle.TagDown)))
	r, _ := m.ExitReason()
	// Reaching here with a DOWN means the link did not kill this process:
	// its exit signal, if any, came first.
	fmt.Printf("survived %s ref=%v\n", r, m.Ref() == ref)
}

// linkrace: many times over, a middle process links to a child that traps
// after spinning a while, and monitors it. The exit signal must kill the
// middle process before it can act on the DOWN message; a middle process
// that reports surviving, or that ends any way but killed, is a failure.
func linkrace() {
	const n = 250 // the race was lost about once in a hundred tries
	ctx, cancel := within(60 * time.Second)
	defer cancel()
	survived, kinds := 0, map[string]int{}
	for i := range n {
		// The child's death sweeps across the middle's Monitor and Receive:
		// it spins from none to a few hundred thousand iterations first.
		m := spawnChild(fmt.Sprintf("middle %d", i*i*4), isle.WithHandles(isle.Self().Handle()))
		must(m.Monitor())
		d := must(isle.Receive(ctx, isle.MatchTag(isle.TagDown)))
		r, _ := d.ExitReason()
		kinds[r.Kind.String()]++
		m.Close()
	}
	for {
		if _, err := isle.TryReceive(isle.MatchTag(tagHello)); err != nil {
			break
		}
		survived++
	}
	// noproc: the middle was gone before this process's monitor, as a busy
	// machine allows when its child spins for no time; it did not survive
	// either, or it would have said hello.
	check("link-kills-before-down", survived == 0 && kinds["killed"]+kinds["noproc"] == n && kinds["killed"] > n/2,
		"%d of %d middle processes saw their linked child's DOWN and lived on; exits %v", survived, n, kinds)
}

// linktrap: as linkdie, but trapping exits: the signal arrives as a
// message.
func linktrap() {
	ctx, cancel := within(20 * time.Second)
	defer cancel()
	isle.TrapExits(true)
	spawnChild(strings.Join(argsFrom(2), " "), isle.Linked())
	m := must(isle.Receive(ctx, isle.MatchTag(isle.TagExit)))
	r, _ := m.ExitReason()
	fmt.Printf("trapped %s: %s\n", r.Kind, r.Text)
}

// hold: leave any request unread for 300 ms, then exit; a caller from
// the host must fail with ErrGone then.
func hold() {
	ctx, cancel := within(300 * time.Millisecond)
	defer cancel()
	_, err := isle.Receive(ctx, isle.MatchTag(99))
	fmt.Printf("hold: %v\n", err)
}
