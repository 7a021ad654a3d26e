package isle

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/isle-run/isle/internal/abi"
	"github.com/isle-run/isle/internal/capkind"
	"github.com/isle-run/isle/internal/kernel"

	// Every kind of capability, registered with capkind.
	_ "github.com/isle-run/isle/internal/services"
	"github.com/isle-run/isle/internal/services/dirs"
	"github.com/isle-run/isle/internal/shape"
	"github.com/isle-run/isle/internal/tracing"
)

// Config configures a Node.
type Config struct {
	// CacheDir holds compiled modules across runs, so a module compiles
	// once per machine. Empty keeps the cache in memory only; see
	// DefaultCacheDir.
	CacheDir string
	// Logger receives the node's logs. Nil discards them.
	Logger *slog.Logger
	// MaxProcesses bounds the live processes on the node (default one
	// million). A spawn past it fails with a recoverable error.
	MaxProcesses int
	// SpawnQuota bounds the live processes of any one process tree: a
	// process spawned with Node.Spawn and all its descendants (default
	// 100,000), so that a spawn bomb stops without taking the node.
	SpawnQuota int
	// MaxMemory is the node's ceiling, in bytes, on what all its processes
	// hold together, counted as Limits.Memory counts it. Past it, spawns
	// and memory.grow fail recoverably. The default is the machine's
	// physical memory. It counts linear memory at its size, touched or
	// not, so a node of very many small processes may need it raised.
	MaxMemory int64
	// MaxFiles bounds the host descriptors (open files and directories,
	// HTTP requests in flight) that the node's processes hold together.
	// Past it, an open fails with ENFILE. Whatever it says, the guests of
	// every node in this OS process together get at most RLIMIT_NOFILE
	// less a reserve for the host: a quarter of the limit, and at least
	// 512 descriptors (README, "Limits"). Zero means only that bound.
	MaxFiles int
	// TreeFiles is Limits.Files for a tree that does not set it: by
	// default 4,096, or a quarter of what the node's processes may hold
	// together if that is less.
	TreeFiles int
	// ModuleLimits bound the shape of the modules the node will compile:
	// their size, function and local counts, block nesting, br_table size,
	// table size, and an estimate of the compile work. A module past one is
	// refused at once with an error wrapping api.ErrModuleShape that names
	// the limit. Zero fields are the defaults, which admit the largest real
	// programs measured with a margin of about four.
	ModuleLimits ModuleLimits
	// DataDir holds the node's durable state, such as key-value buckets.
	// Empty means the node has none, and key-value capabilities fail.
	DataDir string
	// KVMaxBytes bounds what the node's key-value store holds, all its
	// buckets together, each key counting its bytes, its value's and 64
	// (the store's own record of it): by default 2 GiB, as etcd bounds its
	// own bbolt store. A put past it fails with ELIMIT. Negative means no
	// bound. The file can grow to about twice the bound, and does not
	// shrink: bbolt reuses the room deletes free.
	KVMaxBytes int64
	// TracerProvider, if set, receives OpenTelemetry spans: one per
	// reactor turn, per message a command receives, and per call, each
	// the child of the span that sent its message (README, "Traces").
	// Nil turns tracing off. Either way, a message the host sends under
	// a context holding a span joins that span's trace.
	TracerProvider trace.TracerProvider
	// Cluster, if set, joins the node to a cluster of isle nodes over NATS
	// (README, "A cluster").
	Cluster *ClusterConfig
	// NoImages turns copy-on-write images off for the whole node: every
	// reactor runs its own _initialize (see Limits.NoImage).
	NoImages bool
	// IdleSweep is how long an idle reactor keeps its call engine and,
	// where its module allows, its wasm instance: it gives them back when
	// it has had no turn for a whole sweep, so between one and two of it
	// after its last turn. Default one second. See README, "Dormant
	// reactors".
	IdleSweep time.Duration
	// KeepInstances turns dormancy off: every reactor is instantiated in
	// its spawn and keeps its instance while it lives.
	KeepInstances bool
}

// ModuleLimits bound the shape of modules; see Config.ModuleLimits and the
// documentation of each field.
type ModuleLimits = shape.Limits

// DefaultCacheDir returns the per-user cache directory isle uses by
// default: $XDG_CACHE_HOME/isle or its platform equivalent, or "" when the
// user has no cache directory.
func DefaultCacheDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "isle")
}

// Node is one isle runtime: a set of processes sharing a compilation cache
// and host services. It is safe for concurrent use.
type Node struct {
	k    *kernel.Kernel
	log  *slog.Logger
	sink *logSink // hands log's records to Config.Logger
	// env is what capabilities open on the node with: its data directory,
	// its start (the clock capability's origin), its log and its services.
	env *capkind.Env
	// tracer makes spans, nil when tracing is off.
	tracer *tracing.Tracer

	mu sync.Mutex
	// services holds node-wide service state (a key-value store, an HTTP
	// client...), opened on first use by the capability that needs it and
	// closed with the node. Guarded by mu.
	services map[string]any

	// obs remembers what the admin endpoints show; see observe.go.
	obs observer
	// tools is what the node keeps for the control socket's tools
	// (introspect.go, logs.go).
	tools *toolState
	// cluster is the node's membership and distribution; nil when the
	// node is not in a cluster. Set in NewNode, read-only after.
	cluster *clustering
}

// service returns the node-wide service named key, opening it on first
// use. A service that implements io.Closer is closed with the node.
func (n *Node) service(key string, open func() (any, error)) (any, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if s, ok := n.services[key]; ok {
		return s, nil
	}
	s, err := open()
	if err != nil {
		return nil, err
	}
	if n.services == nil {
		n.services = map[string]any{}
	}
	n.services[key] = s
	return s, nil
}

// NewNode starts a node.
func NewNode(ctx context.Context, cfg Config) (*Node, error) {
	tracer := tracing.New(cfg.TracerProvider)
	var kt kernel.Tracer
	if tracer != nil {
		kt = tracer // a nil *Tracer in the interface would not be nil
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// Every record goes through the ring that Node.Logs reads, too.
	tools := &toolState{logs: newLogRing()}
	sink := newLogSink(log.Handler())
	log = slog.New(&teeHandler{next: log.Handler(), sink: sink, ring: tools.logs})
	k, err := kernel.New(ctx, kernel.Config{
		Tracer:        kt,
		CacheDir:      cfg.CacheDir,
		Logger:        log,
		MaxProcesses:  cfg.MaxProcesses,
		SpawnQuota:    cfg.SpawnQuota,
		MaxMemory:     cfg.MaxMemory,
		MaxFiles:      int64(cfg.MaxFiles),
		TreeFiles:     int64(cfg.TreeFiles),
		ModuleShape:   cfg.ModuleLimits,
		HandleFS:      dirs.New,
		HandleFSKind:  dirs.Kind,
		OnExit:        tools.exited,
		NoImages:      cfg.NoImages,
		IdleSweep:     cfg.IdleSweep,
		KeepInstances: cfg.KeepInstances,
	})
	if err != nil {
		sink.close(ctx)
		return nil, err
	}
	if err := abi.Install(ctx, k); err != nil {
		_ = k.Close(ctx)
		sink.close(ctx)
		return nil, err
	}
	n := &Node{k: k, log: log, sink: sink, tracer: tracer, tools: tools}
	n.env = &capkind.Env{DataDir: cfg.DataDir, KVMaxBytes: kvMaxBytes(cfg.KVMaxBytes), Started: time.Now(), Log: log, Shared: n.service}
	if cfg.Cluster != nil {
		if err := n.startCluster(ctx, cfg.Cluster); err != nil {
			_ = k.Close(ctx)
			sink.close(ctx)
			return nil, err
		}
	}
	return n, nil
}

// Close leaves the node's cluster, if any, kills every process still
// running, then closes the node's services and releases the node.
func (n *Node) Close(ctx context.Context) error {
	// Leave the cluster first: other nodes then see a clean shutdown at
	// once, not a silent node.
	err := n.closeCluster(ctx)
	if kerr := n.k.Close(ctx); err == nil {
		err = kerr
	}
	n.mu.Lock()
	for _, s := range n.services {
		if c, ok := s.(io.Closer); ok {
			if cerr := c.Close(); cerr != nil && err == nil {
				err = cerr
			}
		}
	}
	n.services = nil
	n.mu.Unlock()
	n.sink.close(ctx) // last: what the node logged as it closed goes out too
	return err
}

// ErrNoImage is wrapped by PrepareImage's error when a module cannot
// start from an image; the error says why.
var ErrNoImage = kernel.ErrNoImage

// PrepareImage makes the image that processes of m spawned with g start
// from, and returns once spawns use it. Without it, a node makes an image
// in the background on the second spawn with the same view (arguments,
// environment, directory names, terminals, kind of clock, entropy or
// none), and spawns before it is ready run _initialize as usual; call
// PrepareImage to pay for the image up front instead (it runs the init
// once and compiles the module again, about as long as loading it took).
// It fails with an error wrapping ErrNoImage when m is not a reactor with
// _initialize, or its init does something an image cannot hold (README,
// "Images").
func (n *Node) PrepareImage(ctx context.Context, m *Module, g Grants, l Limits) error {
	spec, release, err := g.spec(n, l)
	if err != nil {
		return err
	}
	if release != nil {
		defer release()
	}
	return n.k.PrepareImage(ctx, m.m, spec)
}

// Module is a loaded module: validated, instrumented and compiled. Spawn
// any number of processes from it.
type Module struct {
	m *kernel.Module
}

// Name is the label the module was loaded with.
func (m *Module) Name() string { return m.m.Name }

// Reactor reports whether the module is a reactor (it exports isle_handle
// and no _start): its processes run one turn per message instead of a
// _start of their own.
func (m *Module) Reactor() bool { return m.m.IsReactor() }

// LoadModule loads a module from its binary. name labels it in traces and
// logs. It returns an error wrapping api.ErrNotWasm or api.ErrInvalidModule,
// or an *api.MissingImportsError naming every import isle does not provide.
func (n *Node) LoadModule(ctx context.Context, name string, wasm []byte) (*Module, error) {
	m, err := n.k.Load(ctx, name, wasm)
	if err != nil {
		return nil, err
	}
	return &Module{m: m}, nil
}

// LoadModuleFile loads a module from a .wasm file.
func (n *Node) LoadModuleFile(ctx context.Context, path string) (*Module, error) {
	m, err := n.k.LoadFile(ctx, path)
	if err != nil {
		return nil, err
	}
	return &Module{m: m}, nil
}

// Processes reports how many processes are alive on the node.
func (n *Node) Processes() int { return n.k.ProcessCount() }

// DefaultKVMaxBytes is Config.KVMaxBytes when it is zero.
const DefaultKVMaxBytes = 2 << 30

// kvMaxBytes is the store's bound for Config.KVMaxBytes n: 0 for none.
func kvMaxBytes(n int64) int64 {
	switch {
	case n == 0:
		return DefaultKVMaxBytes
	case n < 0:
		return 0
	}
	return n
}
