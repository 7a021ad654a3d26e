package dist

import (
	"context"
	"errors"
	"testing"

	isleapi "github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/capkind"
	"github.com/isle-run/isle/internal/kernel"
	"github.com/isle-run/isle/internal/testwasm"
)

func releaseFrame(export, n uint64) []byte {
	return putUvarint(putUvarint([]byte{fRelease}, export), n)
}

// A release names only the releasing node's own exports: one for an id
// never exported, or exported to another node, changes nothing, and one
// for its own export takes back as many sends as it says.
func TestReleaseNamesOnlyTheSendersExports(t *testing.T) {
	_, b := pair(t)
	target := counter(t, b)
	c := kernel.Cap{Kind: capkind.Process, Rights: isleapi.RightSend, Object: target}
	b.d.Up("c", 1, nil)
	ec, err := b.d.peer("c").export(c)
	if err != nil {
		t.Fatal(err)
	}
	pa := b.d.peer("a")
	// Sent to a twice: the second send is still on its way when a
	// releases what it received of the first.
	ea, err := pa.export(c)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := pa.export(c); err != nil || again != ea {
		t.Fatalf("exporting the same capability again: %v, %v; want the same export", again, err)
	}
	b.d.Deliver("a", 1, batch(releaseFrame(ec.id, 1), releaseFrame(ec.id^0x5555, 1), releaseFrame(ea.id, 1)))
	if b.d.peer("c").exported(ec.id) != ec {
		t.Fatal("a's release of c's export dropped it")
	}
	if pa.exported(ea.id) != ea {
		t.Fatal("a's release of one of two sends dropped the export: the other is still on its way")
	}
	b.d.Deliver("a", 1, batch(releaseFrame(ea.id, 1)))
	if pa.exported(ea.id) != nil {
		t.Fatal("the export stayed once a released both sends")
	}
	if n, _ := b.d.Exports("c"); n != 1 {
		t.Fatalf("c holds %d exports after a's releases; want its 1", n)
	}
}

// A release waits behind the uses of the export that came before it: a
// send held for room in a full mailbox is delivered, not refused because
// the release overtook it.
func TestReleaseDoesNotOvertakeUses(t *testing.T) {
	_, b := pair(t)
	m := loadMod(t, b, "victim", testwasm.WAT(t, "testdata/wat/victim.wat"))
	victim, err := b.k.Spawn(context.Background(), m, kernel.Spec{Mailbox: 1})
	if err != nil {
		t.Fatal(err)
	}
	pb := b.d.peer("a")
	e, err := pb.export(kernel.Cap{Kind: capkind.Process, Rights: isleapi.RightSend, Object: victim})
	if err != nil {
		t.Fatal(err)
	}
	b.d.Deliver("a", 1, batch(sendFrame(e.id, tCount), sendFrame(e.id, tCount), releaseFrame(e.id, 1)))
	// The second send waits for room that never comes, and the release
	// behind it with it.
	if pb.exported(e.id) != e {
		t.Fatal("a release dropped the export while a send before it waited for room")
	}
}

// A node that lets go of the last handle to another's process tells its
// owner, which forgets the export: a later use of the id is refused as a
// forged one is, and a send past the limit fails with ErrTooManyExports.
func TestClosedRemoteIsReleased(t *testing.T) {
	a, b := pairWith(t, Config{MaxExports: 2})
	target := counter(t, b)
	pb := b.d.peer("a")
	c := kernel.Cap{Kind: capkind.Process, Rights: isleapi.RightSend, Object: target}
	e, err := pb.export(c)
	if err != nil {
		t.Fatal(err)
	}
	// a receives it, as a message's handle would arrive, and closes it.
	r := a.d.peer("b").remote(e.id)
	kernel.Cap{Kind: capkind.Process, Object: r}.Release()
	testwasm.WaitFor(t, "b to forget the export a released", func() bool { return pb.exported(e.id) == nil })
	if n, m := a.d.Exports("b"); n != 0 || m != 0 {
		t.Fatalf("a holds %d exports and %d remotes of b's after releasing; want none", n, m)
	}
	b.d.Deliver("a", 1, batch(sendFrame(e.id, tCount)))
	if _, err := pb.export(kernel.Cap{Kind: capkind.Process, Rights: isleapi.RightSend | isleapi.RightMonitor, Object: target}); err != nil {
		t.Fatal(err)
	}
	if _, err := pb.export(kernel.Cap{Kind: capkind.Process, Rights: isleapi.RightMonitor, Object: target}); err != nil {
		t.Fatal(err)
	}
	_, err = pb.export(c)
	if !errors.Is(err, ErrTooManyExports) || !errors.Is(err, kernel.ErrLimit) {
		t.Fatalf("a third export past a limit of 2: %v; want ErrTooManyExports, an ErrLimit", err)
	}
	if n := count(t, b, target); n != 0 {
		t.Fatalf("a send through a released export arrived (%d counted)", n)
	}
}
