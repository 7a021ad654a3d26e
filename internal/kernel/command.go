package kernel

import "github.com/isle-run/isle/internal/fault"

// runCommand is a command's goroutine: instantiate, run _start, finish.
func (p *Process) runCommand() {
	p.k.polite.Run()
	defer p.k.polite.Wait()
	err := p.instantiate()
	if err == nil {
		if r := p.killReason.Load(); r != nil { // a kill that raced with the spawn wins
			err = &fault.Kill{Reason: *r}
		} else if err = p.grantSlice(); err == nil {
			p.alloc.Run()
			_, err = p.inst.ExportedFunction(p.entry()).Call(p.callCtx())
		}
	}
	p.finish(p.classify(err))
}

// entry is the export a command runs: _start, or where a clone of a Go
// command's image resumes (see gocut.go).
func (p *Process) entry() string {
	if p.startImage() != nil {
		return goResumeExport
	}
	return entryPoint
}
