package main

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/isle-run/isle/sdk/go/isle"
)

// child plays the role named by its init message:
//
//	sender ID N     wait for tagTargets, then send N numbered messages to each target
//	exit CODE       exit with CODE
//	panic           panic
//	misuse          close a handle it does not hold: abandoned for misuse
//	wait            wait for ever (to be killed)
//	hello           send tagHello to the handle in the init message, exit 7
//	dropcall HOW    take a request, then end without answering (HOW: exit or panic)
//	queuecall       leave a request unread for 200 ms, then exit
//	decline         decline a request, then wait
//	middle          see linkrace in scenarios.go
//	usemoved        move a handle to itself, use the new one, then the old one: abandoned
//	flood           see mailbox in scenarios.go
func child() {
	ctx, cancel := within(30 * time.Second)
	defer cancel()
	init := must(isle.Receive(ctx, isle.MatchTag(isle.TagInit)))
	role := strings.Fields(string(init.Data))
	if len(role) == 0 {
		os.Exit(2)
	}
	switch role[0] {
	case "sender":
		id, _ := strconv.Atoi(role[1])
		n, _ := strconv.Atoi(role[2])
		m := must(isle.Receive(ctx, isle.MatchTag(tagTargets)))
		for seq := range n {
			for _, h := range m.Handles {
				must(0, isle.ProcessOf(h).Send(tagSeq, seqMsg(uint32(id), uint32(seq))))
			}
		}
	case "exit":
		code, _ := strconv.Atoi(role[1])
		isle.Exit(uint32(code))
	case "panic":
		panic("boom")
	case "misuse":
		isle.Close(12345)
	case "wait":
		isle.Receive(ctx, isle.MatchTag(99))
	case "hello":
		must(0, isle.ProcessOf(init.Handles[0]).Send(tagHello, []byte("hi from child")))
		isle.Exit(7)
	case "dropcall":
		m := must(isle.Receive(ctx))
		if !m.IsRequest() {
			os.Exit(3)
		}
		if role[1] == "panic" {
			panic("dropping the call")
		}
		isle.Exit(0)
	case "queuecall":
		short, cancel := within(200 * time.Millisecond)
		defer cancel()
		isle.Receive(short, isle.MatchTag(99))
	case "decline":
		m := must(isle.Receive(ctx))
		m.Decline()
		isle.Receive(ctx, isle.MatchTag(99))
	case "usemoved":
		g := must(isle.Spawn(spawner(), "sdkcmd", []byte("wait")))
		must(0, isle.Self().Send(1, nil, isle.WithHandles(g.Handle())))
		m := must(isle.Receive(ctx, isle.MatchTag(1)))
		if len(m.Handles) != 1 || m.Handles[0] == g.Handle() {
			os.Exit(3) // a moved handle is renumbered: the old number is free
		}
		must(0, isle.ProcessOf(m.Handles[0]).Kill())
		g.Kill() // misuse: the handle left with the message
		os.Exit(4)
	case "middle":
		// A linked child that dies after spinning as long as the role says.
		spin, _ := strconv.Atoi(role[1])
		c := must(isle.Spawn(spawner(), "trap", u32(uint32(spin)), isle.Linked()))
		must(c.Monitor())
		must(isle.Receive(ctx, isle.MatchTag(isle.TagDown)))
		ProcessOfInit(init).Send(tagHello, []byte("survived"))
	case "flood":
		flood(ProcessOfInit(init))
	}
}

// ProcessOfInit returns the process whose handle the init message carried.
func ProcessOfInit(m isle.Message) isle.Process { return isle.ProcessOf(m.Handles[0]) }

// flood serves the mailbox scenario: fill the target's mailbox without
// blocking, then push more with blocking sends, then report.
func flood(target isle.Process) {
	ctx, cancel := within(60 * time.Second)
	defer cancel()
	var seq, fulls, errs uint32
	for {
		m := must(isle.Receive(ctx))
		switch m.Tag {
		case tagFill:
			for target.TrySend(tagSeq, seqMsg(0, seq)) == nil {
				seq++
			}
			m.Reply(tagFill, u32(seq))
		case tagFlood:
			// The target is waiting for the reply, not reading its full
			// mailbox, so the first send must find it full. Replies are
			// not held back by the mailbox bound.
			for i := range u32at(m.Data, 0) {
				err := target.TrySend(tagSeq, seqMsg(0, seq))
				if errors.Is(err, isle.ErrFull) {
					fulls++
					if i == 0 {
						m.Reply(tagFlood, nil) // now the target reads
					}
					err = target.Send(tagSeq, seqMsg(0, seq)) // waits for room
				} else if i == 0 {
					errs++ // found room it cannot have had
					m.Reply(tagFlood, nil)
				}
				if err != nil {
					errs++
				}
				seq++
			}
		case tagReport:
			m.Reply(tagReport, u32(fulls, errs))
			return
		}
	}
}

func argsFrom(i int) []string {
	if len(os.Args) <= i {
		return nil
	}
	return os.Args[i:]
}
