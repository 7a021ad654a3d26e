package kernel

import "testing"

// Sample takes each process's lock with the process table's released, as
// the lock order (doc.go) wants: the engine sweep holds a process's lock
// when it takes the table's (a module's first sleep starts compiling its
// wake code), so a Sample that held the table's lock while it waited for a
// process's would deadlock the node against it. visit runs between one
// process's lock and the next, so the table's lock must be free there.
func TestSampleVisitsWithoutTheTableLock(t *testing.T) {
	t.Parallel()
	k := recordingKernel(t, newRecorder())
	m := recordingReactor(t, k)
	for range 3 {
		spawn(t, k, m, Spec{})
	}
	visited, held := 0, 0
	k.Sample(func(*ProcSample) {
		visited++
		if !k.mu.TryLock() {
			held++
			return
		}
		k.mu.Unlock()
	})
	if visited != 3 {
		t.Fatalf("Sample visited %d processes, want 3", visited)
	}
	if held > 0 {
		t.Fatalf("Sample held the process table's lock at %d of its %d visits: it takes process locks under it", held, visited)
	}
}
