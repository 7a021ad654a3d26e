package cluster

import (
	"testing"
	"time"
)

// These tests drive the membership state machine directly, with
// heartbeats delivered by hand, to cover orderings a real network makes
// rare: one side giving up a link the other still holds, and stale
// heartbeats arriving after a partition heals.

var t0 = time.Unix(1000, 0)

const testDownAfter = 1500 * time.Millisecond

func beatOf(t *table) *beat { return &beat{Name: t.self, Inc: t.inc, View: t.view()} }

// deliver hands b to t at now and returns the events.
func deliver(t *table, now time.Time, b *beat) []Event {
	evs, _, _ := t.beat(now, b)
	return evs
}

// converge exchanges heartbeats between a and b until both are Up with
// each other, returning the events each emitted.
func converge(t *testing.T, now time.Time, a, b *table) (ea, eb []Event) {
	t.Helper()
	for range 10 {
		ea = append(ea, deliver(a, now, beatOf(b))...)
		eb = append(eb, deliver(b, now, beatOf(a))...)
		pa, pb := a.peers[b.self], b.peers[a.self]
		if pa != nil && pb != nil && pa.up && pb.up {
			if pa.mine != pb.theirs || pa.theirs != pb.mine {
				t.Fatalf("links disagree: %s has %+v, %s has %+v", a.self, *pa, b.self, *pb)
			}
			return ea, eb
		}
	}
	t.Fatalf("no convergence: %+v %+v", a.peers, b.peers)
	return nil, nil
}

func kinds(evs []Event) string {
	s := ""
	for _, e := range evs {
		s += e.Kind.String() + "(" + e.Member.Name + "," + e.Reason + ") "
	}
	return s
}

func expectKinds(t *testing.T, who string, evs []Event, want string) {
	t.Helper()
	if got := kinds(evs); got != want {
		t.Fatalf("%s emitted %q, want %q", who, got, want)
	}
}

func TestTableHandshake(t *testing.T) {
	a, b := newTable("a", 1, testDownAfter), newTable("b", 2, testDownAfter)
	// a hears b first: a starts a link but is not Up until b echoes it.
	expectKinds(t, "a", deliver(a, t0, beatOf(b)), "")
	if a.peers["b"].mine == 0 || a.peers["b"].up {
		t.Fatalf("a after first beat: %+v", *a.peers["b"])
	}
	ea, eb := converge(t, t0, a, b)
	expectKinds(t, "a", ea, "up(b,) ")
	expectKinds(t, "b", eb, "up(a,) ")
}

// TestTableSymmetricPartition: both sides expire the link; when the
// partition heals the heartbeats sent before it arrive first, and must
// not bring the old sessions back.
func TestTableSymmetricPartition(t *testing.T) {
	a, b := newTable("a", 1, testDownAfter), newTable("b", 2, testDownAfter)
	converge(t, t0, a, b)
	oldA, oldB := a.peers["b"].mine, b.peers["a"].mine
	staleA, staleB := beatOf(a), beatOf(b) // in flight when the partition began
	later := t0.Add(2 * testDownAfter)
	ea, _ := a.expire(later)
	eb, _ := b.expire(later)
	expectKinds(t, "a", ea, "down(b,noconnection) ")
	expectKinds(t, "b", eb, "down(a,noconnection) ")
	if ea[0].Member.Session != oldA || eb[0].Member.Session != oldB {
		t.Fatalf("Down events name sessions %d,%d, want the ended %d,%d", ea[0].Member.Session, eb[0].Member.Session, oldA, oldB)
	}
	expectKinds(t, "a", deliver(a, later, staleB), "")
	expectKinds(t, "b", deliver(b, later, staleA), "")
	ea, eb = converge(t, later, a, b)
	expectKinds(t, "a", ea, "up(b,) ")
	expectKinds(t, "b", eb, "up(a,) ")
	if ea[0].Member.Session <= oldA || eb[0].Member.Session <= oldB {
		t.Fatalf("new sessions %d,%d not after the old %d,%d", ea[0].Member.Session, eb[0].Member.Session, oldA, oldB)
	}
}

// TestTableOneSidedDown: a declares b Down while b still holds the link.
// When a hears b again, b must be told to reset: b goes Down, then both
// come Up on new sessions.
func TestTableOneSidedDown(t *testing.T) {
	a, b := newTable("a", 1, testDownAfter), newTable("b", 2, testDownAfter)
	converge(t, t0, a, b)
	oldA, oldB := a.peers["b"].mine, b.peers["a"].mine
	later := t0.Add(2 * testDownAfter)
	b.peers["a"].lastSeen = later // b kept hearing a; a did not hear b
	ea, _ := a.expire(later)
	expectKinds(t, "a", ea, "down(b,noconnection) ")
	// b's heartbeat still lists the old link: a starts a new one, not Up.
	expectKinds(t, "a", deliver(a, later, beatOf(b)), "")
	// a's heartbeat carries the new session: that is b's reset.
	eb := deliver(b, later, beatOf(a))
	expectKinds(t, "b", eb, "down(a,noconnection) ")
	ea, eb2 := converge(t, later, a, b)
	expectKinds(t, "a", ea, "up(b,) ")
	expectKinds(t, "b", eb2, "up(a,) ")
	if a.peers["b"].mine == oldA || b.peers["a"].mine == oldB {
		t.Fatal("an old session came back")
	}
}

func TestTableRestartAndLeave(t *testing.T) {
	a, b := newTable("a", 1, testDownAfter), newTable("b", 2, testDownAfter)
	converge(t, t0, a, b)
	stale := beatOf(b)
	b2 := newTable("b", 3, testDownAfter)
	ea := deliver(a, t0, beatOf(b2))
	expectKinds(t, "a", ea, "down(b,noconnection) ")
	if ea[0].Member.Incarnation != 2 {
		t.Fatalf("Down names incarnation %d, want 2", ea[0].Member.Incarnation)
	}
	// A late heartbeat from the dead incarnation changes nothing.
	expectKinds(t, "a", deliver(a, t0, stale), "")
	ea, _ = converge(t, t0, a, b2)
	expectKinds(t, "a", ea, "up(b,) ")
	expectKinds(t, "a", a.leave(&beat{Leave: true, Name: "b", Inc: 3}), "down(b,shutdown) ")
	expectKinds(t, "a", deliver(a, t0, beatOf(b2)), "")
	if p := a.peers["b"]; p.up || p.mine != 0 {
		t.Fatalf("a heard a node that left: %+v", *p)
	}
}

func TestTableDuplicateName(t *testing.T) {
	a := newTable("a", 1, testDownAfter)
	if _, _, dup := a.beat(t0, &beat{Name: "a", Inc: 1}); dup {
		t.Fatal("own heartbeat reported as a duplicate")
	}
	if _, _, dup := a.beat(t0, &beat{Name: "a", Inc: 9}); !dup {
		t.Fatal("another node named a not reported")
	}
}

// TestTableAdmit: a message is current only with the current link's
// stamp; one stamped for the link being set up proves the sender is Up.
func TestTableAdmit(t *testing.T) {
	a, b := newTable("a", 1, testDownAfter), newTable("b", 2, testDownAfter)
	converge(t, t0, a, b)
	old := b.peers["a"].member().Stamp() // b's stamp for messages to a
	if _, ok := a.admit("b", old); !ok {
		t.Fatal("current stamp refused")
	}
	if _, ok := a.admit("b", Stamp{To: old.To, From: old.From + 1}); ok {
		t.Fatal("stamp with the wrong sender session admitted")
	}
	later := t0.Add(2 * testDownAfter)
	a.expire(later)
	b.expire(later)
	// Re-handshake until b is Up but a has not heard b's last heartbeat.
	for range 10 {
		deliver(b, later, beatOf(a))
		if b.peers["a"].up {
			break
		}
		deliver(a, later, beatOf(b))
	}
	if !b.peers["a"].up || a.peers["b"].up {
		t.Fatalf("setup: b %+v, a %+v", *b.peers["a"], *a.peers["b"])
	}
	if _, ok := a.admit("b", old); ok {
		t.Fatal("stamp of an ended session admitted")
	}
	evs, ok := a.admit("b", b.peers["a"].member().Stamp())
	if !ok {
		t.Fatal("stamp of the new link refused")
	}
	expectKinds(t, "a", evs, "up(b,) ")
	if a.peers["b"].mine != b.peers["a"].theirs || a.peers["b"].theirs != b.peers["a"].mine {
		t.Fatal("links disagree after admit")
	}
	if _, ok := a.admit("nobody", Stamp{1, 1}); ok {
		t.Fatal("unknown peer admitted")
	}
}

func TestTableDeadBounded(t *testing.T) {
	a := newTable("a", 1, testDownAfter)
	for i := range uint64(3 * maxDead) {
		a.leave(&beat{Leave: true, Name: "b", Inc: i + 10})
	}
	if n := len(a.dead["b"]); n != maxDead {
		t.Fatalf("%d dead incarnations kept, want %d", n, maxDead)
	}
}
