package kernel

import "sync/atomic"

// lazyChan is a channel that is closed at most once and made only when
// someone waits on it: most processes end without anyone having asked for
// their done channel, and are never killed, or killed while idle, so
// neither channel is ever made (each would be 112 bytes for the life of
// the process).
type lazyChan struct{ v atomic.Value } // chan struct{}

// closedChan is every lazyChan closed before anyone asked for it.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// get returns the channel, making it if need be. Safe from any goroutine.
func (l *lazyChan) get() chan struct{} {
	if c, ok := l.v.Load().(chan struct{}); ok {
		return c
	}
	c := make(chan struct{})
	if l.v.CompareAndSwap(nil, c) {
		return c
	}
	return l.v.Load().(chan struct{})
}

// close closes the channel. Call it once.
func (l *lazyChan) close() {
	if !l.v.CompareAndSwap(nil, closedChan) {
		close(l.v.Load().(chan struct{}))
	}
}

// closed reports whether close was called, without making the channel.
func (l *lazyChan) closed() bool {
	c, ok := l.v.Load().(chan struct{})
	if !ok {
		return false
	}
	select {
	case <-c:
		return true
	default:
		return false
	}
}
