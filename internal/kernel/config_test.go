package kernel

import "testing"

// A process's context gives wazero the process's own linear memory
// allocator (procContext.Value answers wazero's key for it): the memory
// the instance got is the one the allocator handed out and charged.
func TestInstanceMemoryComesFromTheProcessAllocator(t *testing.T) {
	t.Parallel()
	r := newRecorder()
	k := recordingKernel(t, r)
	p := spawn(t, k, recordingReactor(t, k), Spec{})
	if got := p.alloc.PeakBytes(); got != 1<<16 {
		t.Fatalf("the process's allocator handed out %d bytes, want the module's one page (65536)", got)
	}
}
