package fuel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/isle-run/isle/internal/testwasm"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

type specFile struct {
	Commands []specCommand `json:"commands"`
}

type specCommand struct {
	Type       string      `json:"type"`
	Line       int         `json:"line"`
	Name       string      `json:"name"`
	Filename   string      `json:"filename"`
	As         string      `json:"as"`
	Text       string      `json:"text"`
	ModuleType string      `json:"module_type"`
	Action     *specAction `json:"action"`
	Expected   []specValue `json:"expected"`
}

type specAction struct {
	Type   string      `json:"type"`
	Module string      `json:"module"`
	Field  string      `json:"field"`
	Args   []specValue `json:"args"`
}

// outcome is what one command did under one variant.
type outcome struct {
	skip   string // why the command was not checked; empty if it was
	holds  bool   // the command's assertion held
	detail string // results or the error's first line, compared across variants
}

// specMeter is the yield of the differential run of one command file: it
// refills the caller's counter with a slice of 1 to 7 units, so the yield
// path runs constantly. It kills a command that yields more than budget
// times, so that a broken rewrite that loops forever fails the test
// instead of hanging it.
type specMeter struct {
	calls, left, most atomic.Int64
	// The counter of the module that yielded last: looking it up on every
	// one of millions of yields would cost more than the rest of the call.
	lastMod api.Module
	lastG   api.MutableGlobal
}

const yieldBudget = 20_000_000

var errRunaway = errors.New("runaway: yield budget of the command exhausted")

// yield is a GoModuleFunc, which wazero calls without reflection.
func (m *specMeter) yield(_ context.Context, mod api.Module, _ []uint64) {
	n := m.calls.Add(1)
	if m.left.Add(-1) < 0 {
		panic(errRunaway)
	}
	if mod != m.lastMod {
		m.lastMod, m.lastG = mod, mod.ExportedGlobal(GlobalExport).(api.MutableGlobal)
	}
	m.lastG.Set(uint64(1 + n%7))
}

// startCommand resets the budget, noting how much the last command used.
func (m *specMeter) startCommand() {
	if used := yieldBudget - m.left.Load(); used > m.most.Load() {
		m.most.Store(used)
	}
	m.left.Store(yieldBudget)
}

// specRun runs one command file under one variant.
type specRun struct {
	ctx      context.Context
	dir      string
	rewrite  bool
	r        wazero.Runtime
	mods     map[string]api.Module
	last     api.Module
	regNames map[int]string // command index -> name it is registered as
	cache    map[string]any // file -> []byte or error, for the rewritten variant
}

// TestSpecDifferential runs every spec test command against the original
// modules and against their instrumented versions, and fails if any
// assertion holds for one and not the other. The command files are
// independent and run in parallel.
//
// Under the race detector it runs in a go test of its own without it: it
// shares nothing between goroutines but its tally, so the detector has
// nothing to find, and it makes the run five times slower (wazero growing
// its stack to exhaustion, millions of host calls).
func TestSpecDifferential(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every spec test twice")
	}
	t.Parallel()
	if testwasm.RaceEnabled() {
		out := testwasm.GoOutsideRace(t, "test", "-count=1", "-v", "-run", "^TestSpecDifferential$", "./internal/fuel")
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, "assertions checked") || strings.HasPrefix(l, "ok") {
				t.Log(strings.TrimSpace(l))
			}
		}
		return
	}
	dir := spectestDir(t)
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) < 100 {
		t.Fatalf("found %d command files in %s, want the full suite", len(files), dir)
	}
	spectest := wat(t, "spectest")
	var tally specTally
	t.Run("files", func(t *testing.T) {
		for _, f := range files {
			t.Run(strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) {
				t.Parallel()
				tally.add(diffSpecFile(t, dir, f, spectest))
			})
		}
	})
	counts := tally.counts
	t.Logf("assertions checked %d, held for original %d, held for rewritten %d, divergences %d; yield called %d times, at most %d in one command",
		counts["checked"], counts["held for original"], counts["held for rewritten"], counts["divergences"],
		tally.calls, tally.most)
	var reasons []string
	for k, v := range tally.skips {
		reasons = append(reasons, fmt.Sprintf("%d %s", v, k))
	}
	sort.Strings(reasons)
	t.Logf("skipped: %s", strings.Join(reasons, "; "))
	if counts["checked"] < 50000 || counts["held for original"] < counts["checked"]*99/100 {
		t.Errorf("too few assertions checked or held: %v", counts)
	}
	if tally.calls < 100000 {
		t.Errorf("yield was called only %d times", tally.calls)
	}
}

// specTally adds up what the command files found.
type specTally struct {
	mu          sync.Mutex
	counts      map[string]int
	skips       map[string]int
	calls, most int64
}

// fileTally is what one command file found.
type fileTally struct {
	counts, skips map[string]int
	calls, most   int64
}

func (s *specTally) add(f fileTally) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.counts == nil {
		s.counts, s.skips = map[string]int{}, map[string]int{}
	}
	for k, v := range f.counts {
		s.counts[k] += v
	}
	for k, v := range f.skips {
		s.skips[k] += v
	}
	s.calls += f.calls
	s.most = max(s.most, f.most)
}

// diffSpecFile runs one command file against the original modules and the
// instrumented ones, and reports every divergence.
func diffSpecFile(t *testing.T, dir, f string, spectest []byte) fileTally {
	var sf specFile
	if b, err := os.ReadFile(f); err != nil {
		t.Fatal(err)
	} else if err := json.Unmarshal(b, &sf); err != nil {
		t.Fatalf("%s: %v", f, err)
	}
	meter := &specMeter{}
	meter.left.Store(yieldBudget)
	orig := runSpecFile(t, dir, sf, false, spectest, meter)
	inst := runSpecFile(t, dir, sf, true, spectest, meter)
	meter.startCommand()
	ft := fileTally{counts: map[string]int{}, skips: map[string]int{}, calls: meter.calls.Load(), most: meter.most.Load()}
	for i, c := range sf.Commands {
		o, n := orig[i], inst[i]
		if o.skip != "" {
			ft.skips[o.skip]++
			continue
		}
		ft.counts["checked"]++
		if o.holds {
			ft.counts["held for original"]++
		} else {
			t.Logf("does not hold for the original either: %s:%d %s %s", filepath.Base(f), c.Line, c.Type, o.detail)
		}
		if n.holds {
			ft.counts["held for rewritten"]++
		}
		if o.holds != n.holds || o.detail != n.detail {
			ft.counts["divergences"]++
			t.Errorf("%s:%d %s: original held=%v (%s); rewritten held=%v (%s)",
				filepath.Base(f), c.Line, c.Type, o.holds, o.detail, n.holds, n.detail)
		}
	}
	return ft
}

// runSpecFile runs every command of a file in a fresh runtime.
func runSpecFile(t *testing.T, dir string, sf specFile, rewrite bool, spectest []byte, m *specMeter) []outcome {
	ctx := context.Background()
	cfg := wazero.NewRuntimeConfigCompiler().WithCoreFeatures(api.CoreFeaturesV2)
	r := wazero.NewRuntimeWithConfig(ctx, cfg)
	defer r.Close(ctx)
	if _, err := withStubs(r.NewHostModuleBuilder(ImportModule).NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(m.yield), nil, nil).Export(ImportName)).Instantiate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := r.InstantiateWithConfig(ctx, spectest, wazero.NewModuleConfig().WithName("spectest")); err != nil {
		t.Fatal(err)
	}
	s := &specRun{ctx: ctx, dir: dir, rewrite: rewrite, r: r, mods: map[string]api.Module{},
		regNames: registrations(sf.Commands), cache: map[string]any{}}
	out := make([]outcome, len(sf.Commands))
	for i := range sf.Commands {
		m.startCommand()
		out[i] = s.command(i, &sf.Commands[i])
	}
	return out
}

// registrations finds the name each registered module is registered as.
// wazero names a module when it is instantiated, so the name is given then.
func registrations(cmds []specCommand) map[int]string {
	out := map[int]string{}
	named := map[string]int{}
	last := -1
	for i, c := range cmds {
		switch c.Type {
		case "module":
			last = i
			if c.Name != "" {
				named[c.Name] = i
			}
		case "register":
			target := last
			if c.Name != "" {
				target = named[c.Name]
			}
			out[target] = c.As
		}
	}
	return out
}

// load reads a module file, instrumented for the rewritten variant.
func (s *specRun) load(name string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, name))
	if err != nil || !s.rewrite {
		return b, err
	}
	if v, ok := s.cache[name]; ok {
		if err, ok := v.(error); ok {
			return nil, err
		}
		return v.([]byte), nil
	}
	res, err := Instrument(b)
	if err != nil {
		s.cache[name] = fmt.Errorf("rewriter refused: %w", err)
		return nil, s.cache[name].(error)
	}
	s.cache[name] = res.Wasm
	return res.Wasm, nil
}

func (s *specRun) command(i int, c *specCommand) outcome {
	switch c.Type {
	case "module":
		return s.module(i, c)
	case "register":
		return outcome{skip: "register (applied when the module was instantiated)"}
	case "action", "assert_return", "assert_trap", "assert_exhaustion":
		return s.action(c)
	case "assert_invalid", "assert_malformed":
		if c.ModuleType == "text" {
			return outcome{skip: "text module"}
		}
		b, err := s.load(c.Filename)
		if err == nil {
			var cm wazero.CompiledModule
			if cm, err = s.r.CompileModule(s.ctx, b); err == nil {
				cm.Close(s.ctx)
			}
		}
		// The error text differs between the rewriter and wazero; only
		// refusal matters.
		return outcome{holds: err != nil}
	case "assert_unlinkable", "assert_uninstantiable":
		if c.ModuleType == "text" {
			return outcome{skip: "text module"}
		}
		b, err := s.load(c.Filename)
		if err == nil {
			var mod api.Module
			if mod, err = s.r.InstantiateWithConfig(s.ctx, b, wazero.NewModuleConfig().WithName("")); err == nil {
				mod.Close(s.ctx)
			}
		}
		return outcome{holds: err != nil}
	}
	return outcome{skip: "unknown command " + c.Type}
}

func (s *specRun) module(i int, c *specCommand) outcome {
	s.last = nil
	b, err := s.load(c.Filename)
	if err != nil {
		return outcome{detail: firstLine(err)}
	}
	mod, err := s.r.InstantiateWithConfig(s.ctx, b, wazero.NewModuleConfig().WithName(s.regNames[i]))
	if err != nil {
		return outcome{detail: firstLine(err)}
	}
	s.last = mod
	if c.Name != "" {
		s.mods[c.Name] = mod
	}
	return outcome{holds: true}
}

func (s *specRun) action(c *specCommand) outcome {
	a := c.Action
	mod := s.last
	if a.Module != "" {
		mod = s.mods[a.Module]
	}
	if mod == nil {
		return outcome{skip: "its module did not instantiate in the original"}
	}
	results, err := s.do(mod, a)
	detail := fmt.Sprint(results)
	if err != nil {
		detail = firstLine(err)
	}
	switch c.Type {
	case "action":
		return outcome{holds: err == nil, detail: detail}
	case "assert_return":
		ok, merr := match(results, c.Expected)
		if merr != nil {
			return outcome{skip: "unparsable expectation"}
		}
		return outcome{holds: err == nil && ok, detail: detail}
	case "assert_exhaustion":
		return outcome{holds: trapMatches(err, "call stack exhausted"), detail: detail}
	}
	return outcome{holds: trapMatches(err, c.Text), detail: detail}
}

// do invokes a function or reads a global.
func (s *specRun) do(mod api.Module, a *specAction) ([]uint64, error) {
	if a.Type == "get" {
		g := mod.ExportedGlobal(a.Field)
		if g == nil {
			return nil, fmt.Errorf("no global %q", a.Field)
		}
		return []uint64{g.Get()}, nil
	}
	fn := mod.ExportedFunction(a.Field)
	if fn == nil {
		return nil, fmt.Errorf("no function %q", a.Field)
	}
	var args []uint64
	for _, v := range a.Args {
		x, err := v.encode()
		if err != nil {
			return nil, err
		}
		args = append(args, x...)
	}
	return fn.Call(s.ctx, args...)
}
