package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/isle-run/isle/internal/control"
)

const topUsage = "usage: isle top [--node SOCKET] [--sort fuel|memory|mailbox] [-n ROWS] [--count FRAMES] [--interval DURATION]"

// topOptions are the flags of `isle top`.
type topOptions struct {
	sort     string
	rows     int
	count    int
	interval durationFlag
}

// newTopFlags is top's flags, set into o.
func newTopFlags(o *topOptions) ctlFlags {
	f := newCtlFlags("top")
	o.interval = durationFlag(time.Second)
	f.fs.StringVar(&o.sort, "sort", control.SortFuel, "sort by fuel (spent per second), memory or mailbox")
	f.fs.IntVar(&o.rows, "n", control.DefaultTopN, "how many processes to list; the rest are added up")
	f.fs.IntVar(&o.count, "count", 0, "stop after this many frames (default: until q or Ctrl-C on a terminal, 1 otherwise)")
	f.fs.Var(&o.interval, "interval", "time between frames")
	return f
}

// topCmd shows the busiest processes, refreshed every interval: live on a
// terminal (keys f, m and b sort by fuel rate, memory and mailbox; q
// quits), or --count frames one after another elsewhere (default one).
func topCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	var o topOptions
	f := newTopFlags(&o)
	if _, err := f.parse(args, topUsage, 0); err != nil {
		return 0, err
	}
	if o.rows <= 0 {
		return 0, usagef("-n %d: list at least one process", o.rows)
	}
	if o.sort != control.SortFuel && o.sort != control.SortMemory && o.sort != control.SortMailbox {
		return 0, usagef("--sort %q: sort by fuel, memory or mailbox", o.sort)
	}
	live := isTerminal(stdout)
	if o.count == 0 && !live {
		o.count = 1
	}
	c, err := f.connect()
	if err != nil {
		return failed(stderr, err)
	}
	defer c.Close()
	keys := make(chan byte, 8)
	if in, ok := stdin.(*os.File); ok && live && isTerminal(in) {
		if restore, err := cbreak(in); err == nil {
			defer restore()
			go readKeys(in, keys)
		}
	}
	return runTop(ctx, c, &o, live, keys, stdout, stderr)
}

// runTop draws frames until count is reached, q is pressed or ctx ends.
func runTop(ctx context.Context, c *control.Client, o *topOptions, live bool, keys <-chan byte, stdout, stderr io.Writer) (int, error) {
	tick := time.NewTicker(time.Duration(o.interval))
	defer tick.Stop()
	for frame := 1; ; frame++ {
		r, err := c.Do(control.Request{Op: control.OpTop, Sort: o.sort, N: o.rows})
		if err != nil {
			return failed(stderr, err)
		}
		if live {
			fmt.Fprint(stdout, "\x1b[H\x1b[2J") // home, clear
		} else if frame > 1 {
			fmt.Fprintln(stdout)
		}
		printTop(stdout, r.Top, live)
		if o.count > 0 && frame >= o.count {
			return 0, nil
		}
		select {
		case <-ctx.Done():
			return statusInterrupt, nil
		case <-tick.C:
		case k := <-keys:
			switch k {
			case 'q':
				return 0, nil
			case 'f':
				o.sort = control.SortFuel
			case 'm':
				o.sort = control.SortMemory
			case 'b':
				o.sort = control.SortMailbox
			}
		}
	}
}

func readKeys(in *os.File, keys chan<- byte) {
	var b [1]byte
	for {
		if n, err := in.Read(b[:]); err != nil || n == 0 {
			return
		}
		select {
		case keys <- b[0]:
		default:
		}
	}
}

// printTop prints one frame.
func printTop(w io.Writer, v *control.TopView, live bool) {
	fmt.Fprintf(w, "isle top: %d processes, memory %s of %s, %.0f fuel/s; sorted by %s; snapshot took %s\n",
		v.All.Processes, formatBytes(v.Memory), formatBytes(v.Ceiling), v.All.FuelRate, v.Sort, v.Cost.Round(time.Microsecond))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PID\tNAME\tMODULE\tSTATE\tFUEL/S\tMEMORY\tMBOX\tRESTARTS\tUPTIME")
	for _, r := range v.Rows {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%.0f\t%s\t%d\t%d\t%s\n", r.PID, r.Name, r.Module, r.State, r.FuelRate,
			formatBytes(r.Memory), r.Mailbox, r.Restarts, roundDuration(r.Uptime))
	}
	if v.Rest.Processes > 0 {
		fmt.Fprintf(tw, "+\t%d more\t\t\t%.0f\t%s\t%d\t\t\n", v.Rest.Processes, v.Rest.FuelRate, formatBytes(v.Rest.Memory), v.Rest.Mailbox)
	}
	tw.Flush()
	if live {
		fmt.Fprintln(w, "keys: f fuel/s, m memory, b mailbox, q quit")
	}
}
