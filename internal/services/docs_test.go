package services_test

import (
	"flag"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/isle-run/isle/internal/abi"
	"github.com/isle-run/isle/internal/capkind"
	_ "github.com/isle-run/isle/internal/services"
	"github.com/isle-run/isle/internal/testwasm"
)

// The docs and the SDKs are checked against what is registered: the host
// functions (internal/abi's and every kind's) and the kinds' descriptors.
// The tables the docs hold for the kinds are generated from the
// descriptors; after adding or changing a kind, rewrite them with
//
//	go test ./internal/services -run Docs -update
var update = flag.Bool("update", false, "rewrite the docs' kind tables from the descriptors")

func readDoc(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(testwasm.Path(rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// registered returns every host function's parameter names, by name.
func registered() map[string][]string {
	out := map[string][]string{}
	for _, f := range abi.Functions() {
		names := []string{}
		for _, p := range f.Params {
			names = append(names, p.Name)
		}
		out[f.Name] = names
	}
	return out
}

// A heading of docs/ABI.md that documents a function:
// ### `name(params) -> results`, possibly after a word ("Egress: ").
var headingRE = regexp.MustCompile("(?m)^###[^`\n]*`([a-z_]+)\\(([^)]*)\\)")

// Every registered function has a heading in docs/ABI.md with its
// parameters, by name and in order, and every heading names a registered
// function.
func TestDocsABIHeadings(t *testing.T) {
	t.Parallel()
	doc := readDoc(t, "docs/ABI.md")
	funcs := registered()
	documented := map[string]bool{}
	for _, m := range headingRE.FindAllStringSubmatch(doc, -1) {
		name, params := m[1], []string{}
		if strings.TrimSpace(m[2]) != "" {
			for _, p := range strings.Split(m[2], ",") {
				params = append(params, strings.TrimSpace(p))
			}
		}
		if documented[name] {
			t.Errorf("docs/ABI.md documents %s twice", name)
		}
		documented[name] = true
		want, ok := funcs[name]
		if !ok {
			t.Errorf("docs/ABI.md documents %s(%s), which is not a host function", name, m[2])
			continue
		}
		if strings.Join(params, ", ") != strings.Join(want, ", ") {
			t.Errorf("docs/ABI.md: %s(%s); registered with %d parameters: %s(%s)", name, m[2], len(want), name, strings.Join(want, ", "))
		}
	}
	for name, params := range funcs {
		if !documented[name] {
			t.Errorf("host function %s(%s) has no heading in docs/ABI.md", name, strings.Join(params, ", "))
		}
	}
}

// tableRows returns the first cells of the table that follows the line
// heading in doc.
func tableRows(t *testing.T, doc, heading string) []string {
	t.Helper()
	_, rest, ok := strings.Cut(doc, "\n"+heading+"\n")
	if !ok {
		t.Fatalf("no %q", heading)
	}
	var rows []string
	for _, line := range strings.Split(rest, "\n") {
		if strings.HasPrefix(line, "| `") {
			cell, _, _ := strings.Cut(strings.TrimPrefix(line, "| `"), "`")
			rows = append(rows, cell)
		} else if len(rows) > 0 && !strings.HasPrefix(line, "|") {
			break
		}
	}
	return rows
}

// The misuse list of docs/ABI.md has one row per host function: what
// abandons a caller is documented for each, and only for those.
func TestDocsABIMisuse(t *testing.T) {
	t.Parallel()
	rows := tableRows(t, readDoc(t, "docs/ABI.md"), "### Misuse, function by function")
	funcs := registered()
	seen := map[string]bool{}
	for _, name := range rows {
		if _, ok := funcs[name]; !ok {
			t.Errorf("the misuse list names %s, which is not a host function", name)
		}
		if seen[name] {
			t.Errorf("the misuse list names %s twice", name)
		}
		seen[name] = true
	}
	for name := range funcs {
		if !seen[name] {
			t.Errorf("the misuse list has no row for %s", name)
		}
	}
}

// abiKindTable is docs/ABI.md's table of kinds.
func abiKindTable() string {
	var b strings.Builder
	b.WriteString("| kind | value | a handle names | rights |\n| --- | --- | --- | --- |\n")
	for _, d := range capkind.All() {
		rights := "none"
		if len(d.Rights) > 0 {
			var rs []string
			for _, r := range d.Rights {
				rs = append(rs, fmt.Sprintf("`%s` %d", r.Name, r.Bit))
			}
			rights = strings.Join(rs, ", ")
		}
		fmt.Fprintf(&b, "| `%s` | %d | %s | %s |\n", d.Name, d.Kind, d.Summary, rights)
	}
	return b.String()
}

// manifestKindTable is docs/MANIFEST.md's table of the kinds a manifest
// grants.
func manifestKindTable() string {
	var b strings.Builder
	b.WriteString("| kind | rights | keys |\n| --- | --- | --- |\n")
	for _, d := range capkind.All() {
		if !d.Granted() {
			continue
		}
		rights := "one right: leave `rights` out"
		if len(d.Rights) > 1 {
			var rs []string
			for _, r := range d.Rights {
				rs = append(rs, fmt.Sprintf("`%s` (%s)", r.Name, r.Doc))
			}
			rights = strings.Join(rs, ", ")
		}
		var keys []string
		for _, f := range d.Fields {
			req := ""
			if f.Required {
				req = " (required)"
			}
			keys = append(keys, fmt.Sprintf("`%s`%s: %s", f.Key, req, f.Doc))
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", d.Name, rights, strings.Join(keys, "; "))
	}
	return b.String()
}

// The kind tables of docs/ABI.md and docs/MANIFEST.md are the
// descriptors', as generated.
func TestDocsKindTables(t *testing.T) {
	for _, c := range []struct{ doc, table string }{
		{"docs/ABI.md", abiKindTable()},
		{"docs/MANIFEST.md", manifestKindTable()},
	} {
		doc := readDoc(t, c.doc)
		header, _, _ := strings.Cut(c.table, "\n")
		start := strings.Index(doc, "\n"+header+"\n")
		if start < 0 {
			t.Errorf("%s has no table headed %q", c.doc, header)
			continue
		}
		start++
		end := start
		for end < len(doc) && doc[end] == '|' {
			end += strings.IndexByte(doc[end:], '\n') + 1
		}
		if doc[start:end] == c.table {
			continue
		}
		if *update {
			if err := os.WriteFile(testwasm.Path(c.doc), []byte(doc[:start]+c.table+doc[end:]), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		t.Errorf("%s's kind table is not the descriptors'; run go test ./internal/services -run Docs -update, or write:\n%s", c.doc, c.table)
	}
}

// goName is a kind's name as the Go SDK spells it after "Kind".
func goName(name string) string {
	switch name {
	case "kv", "http":
		return strings.ToUpper(name)
	}
	return strings.ToUpper(name[:1]) + name[1:]
}

// The SDKs bind every host function, name every kind with its number and
// every right with its bit: a kind is added with its SDK bindings.
func TestSDKsAgree(t *testing.T) {
	t.Parallel()
	var c, goSDK strings.Builder
	for _, f := range []string{"sdk/c/isle.h", "sdk/c/isle_services.h"} {
		c.WriteString(readDoc(t, f))
	}
	entries, err := os.ReadDir(testwasm.Path("sdk/go/isle"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".go") {
			goSDK.WriteString(readDoc(t, "sdk/go/isle/"+e.Name()))
		}
	}
	imports := func(re string, src string) map[string]bool {
		out := map[string]bool{}
		for _, m := range regexp.MustCompile(re).FindAllStringSubmatch(src, -1) {
			out[m[1]] = true
		}
		return out
	}
	funcs := registered()
	for sdk, bound := range map[string]map[string]bool{
		"sdk/c":  imports(`ISLE_IMPORT\("(\w+)"\)`, c.String()),
		"sdk/go": imports(`//go:wasmimport isle (\w+)`, goSDK.String()),
	} {
		var missing, extra []string
		for name := range funcs {
			if !bound[name] {
				missing = append(missing, name)
			}
		}
		for name := range bound {
			if _, ok := funcs[name]; !ok {
				extra = append(extra, name)
			}
		}
		sort.Strings(missing)
		sort.Strings(extra)
		if len(missing)+len(extra) > 0 {
			t.Errorf("%s does not bind %v, and binds %v, which are not host functions", sdk, missing, extra)
		}
	}
	defines := map[string]int64{}
	for _, m := range regexp.MustCompile(`(?m)^#define (ISLE_(?:KIND|RIGHT)_\w+)\s+(\d+)u?`).FindAllStringSubmatch(c.String(), -1) {
		defines[m[1]], _ = strconv.ParseInt(m[2], 10, 64)
	}
	goKinds := map[string]int64{}
	for _, m := range regexp.MustCompile(`(?m)^\s*Kind(\w+)\s+Kind\s*=\s*(\d+)`).FindAllStringSubmatch(goSDK.String(), -1) {
		goKinds[m[1]], _ = strconv.ParseInt(m[2], 10, 64)
	}
	for _, d := range capkind.All() {
		if v, ok := defines["ISLE_KIND_"+strings.ToUpper(d.Name)]; !ok || v != int64(d.Kind) {
			t.Errorf("sdk/c: ISLE_KIND_%s is %d (defined: %v); want %d", strings.ToUpper(d.Name), v, ok, d.Kind)
		}
		if v, ok := goKinds[goName(d.Name)]; !ok || v != int64(d.Kind) {
			t.Errorf("sdk/go: Kind%s is %d (declared: %v); want %d", goName(d.Name), v, ok, d.Kind)
		}
		for _, r := range d.Rights {
			if v, ok := defines["ISLE_RIGHT_"+strings.ToUpper(r.Name)]; !ok || v != int64(r.Bit) {
				t.Errorf("sdk/c: ISLE_RIGHT_%s is %d (defined: %v); want %d", strings.ToUpper(r.Name), v, ok, r.Bit)
			}
		}
	}
}
