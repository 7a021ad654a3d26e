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
			_, err = p.inst.ExportedFunction(entryPoint).Call(p.ctx)
		}
	}
	p.finish(p.classify(err))
}
