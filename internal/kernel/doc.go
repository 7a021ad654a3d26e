// Package kernel runs wasm processes: it owns the wazero runtime, the host
// modules every guest links against, the table of live processes, and
// their scheduling, messages, links, monitors and budgets.
//
// # Concepts
//
// The types map onto the concepts one to one:
//
//   - Kernel is a node.
//   - Module is compiled, fuel-instrumented code, shared by its processes.
//   - Process is one isolated instance of a Module, with its own linear
//     memory, handle table (HandleTable, of Cap entries) and mailbox.
//   - Group is a process tree's shared budget: memory, fuel, process
//     quota, timeout. The node's own Group caps every tree's memory.
//   - Service is a stable address for a supervised process; a process
//     handle names a Target, which is a Process or a Service.
//   - Message is one message in flight; Reservation holds mailbox room
//     for one the host is still receiving.
//
// # A process's life
//
// Kernel.Spawn (a root: it starts a Group) or Process.SpawnChild (joins
// the spawner's Group) makes the process: it joins its group, is charged
// its fixed memory, is registered, gets its handles, and has its init
// message queued, all before it can run. A reactor is instantiated inside
// the spawn (its start function runs then, on the spawner's thread) and
// is queued for a turn only if it has work; a command gets its own
// goroutine, which instantiates it and runs _start.
//
// A process runs on exactly one goroutine at a time, its *owner*: a
// command's own goroutine, or the scheduler worker running the reactor's
// turn (a reactor's start function: its spawner's thread). Only the owner
// touches the instance, the handle table, the current message, the fuel
// counter and the monitors the process holds, and the batch of messages a
// reactor's run has taken from its mailbox (batch.go), which count as
// queued until the run commits them.
//
// It ends once, on its owner: in finish once it has run, in abort if its
// spawn fails after it was registered (a start function that trapped or
// was killed). Either way the mailbox is closed and drained (to the next
// instance, for a service's), the handles and instance are released, the
// memory account is settled, the exit is set, done is closed, and only
// then are links and monitors told. A root ended by a kill, a timeout or a
// spent budget kills its group.
//
// A group's kill marks every member killed (killReason, an atomic) under
// Group.mu before it wakes any of them, and Kernel.Close every process
// under Kernel.mu, so no process can learn of another's kill (a child's
// start ended under its spawner), and run on to an end of its own, before
// its own kill is recorded.
//
// # Copies of remote capabilities
//
// A Remote (a process of another node) counts what holds it here, so its
// node can forget the export once nothing does: every copy of a
// capability on it in a handle table, a message or an export (Cap.AddRef
// where a copy is made; a move keeps its count; release and Cap.DropRef
// where one goes), and every link and monitor. A message built from a
// process's handles counts its own copies; if it is not sent, they are
// dropped (Message.DropRefs), and the handles stay the sender's.
//
// # Who may call what
//
// Every exported method says its rule. "Precondition: called by p's own
// goroutine or turn" means only the owner may call it: the host functions
// of the ABI (internal/abi) and of the services run there, and find the
// process with ProcessFrom. Everything else is safe from any goroutine:
// Kill, Wait, Done, Exit, Stats, Shutdown, Reserve, HostSend, HostCall.
//
// # Lock order
//
// A goroutine holding one of these may take only those below it:
//
//	Process.signalling, Service.signalling
//	                 held by a dying process (or a service given up) until
//	                 its links are told; a late link or monitor waits on it
//	                 holding nothing; never two at once
//	Service.mu       a service's pending messages, links, monitors
//	Process.mu       the mailbox, links, monitors on the process, dead
//	Group.mu         members, killed
//	Kernel.mu        the process table and module cache
//	scheduler.mu, worker.mu, replySlot.mu, slabs.mu, parking.mu (leaves)
//
// No two Process.mu are ever held at once: a link is recorded on each side
// in turn (see Link). Exit signals, monitors' down messages and kills are
// sent with no lock held but the sender's signalling barrier. Atomics (a process's killReason, fuel spent,
// memory account; a group's counters; a service's current instance) are
// read without locks.
package kernel
