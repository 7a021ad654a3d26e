package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/isle-run/isle/internal/testwasm"
)

// adminApp writes an application with a nested supervisor, an HTTP
// function "fn" and a helper service, served on loopback by the
// manifest's admin key.
func adminApp(t *testing.T) string {
	fn := testwasm.C(t, "testdata/c/httpfn.c", "-O2", "-mexec-model=reactor")
	svc := testwasm.C(t, "testdata/c/svc.c", "-O2", "-mexec-model=reactor")
	return writeFile(t, t.TempDir(), "app.toml", fmt.Sprintf(`
name = "shop"
admin = ":0"
[supervisor]
intensity = 100
[[service]]
name = "helper"
module = %q
args = ["worker"]
[[service]]
name = "fn"
module = %q
http = "127.0.0.1:0"
uses = ["helper"]
[[service]]
name = "back"
[service.supervisor]
strategy = "rest_for_one"
[[service.service]]
name = "store"
module = %q
args = ["collector"]
`, svc, fn, svc))
}

var adminLine = `^isle: admin dashboard on (http://\S+/)(\?token=([^,\s]+))?, metrics on `

func getBody(t *testing.T, url, auth string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// metric returns the value of one series in a /metrics body, parsed with
// Prometheus's parser; labels are "k=v" pairs, in any order.
func metric(t *testing.T, body, name string, labels ...string) float64 {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	for _, m := range fams[name].GetMetric() {
		var got []string
		for _, l := range m.GetLabel() {
			got = append(got, l.GetName()+"="+l.GetValue())
		}
		sort.Strings(got)
		want := slices.Sorted(slices.Values(labels))
		if strings.Join(got, ",") == strings.Join(want, ",") {
			if m.Counter != nil {
				return m.Counter.GetValue()
			}
			return m.Gauge.GetValue()
		}
	}
	return -1
}

// isle up with `admin = ":0"` serves /metrics and the dashboard's feed on
// loopback without a token; HTTP requests, crashes and restarts show in
// them.
func TestUpAdminMetrics(t *testing.T) {
	t.Parallel()
	s := startIsle(t, "up", adminApp(t))
	admin := s.wait(t, adminLine)
	if admin[3] != "" || !strings.HasPrefix(admin[1], "http://127.0.0.1:") {
		t.Fatalf("a bare :PORT must be loopback without a token: %q", admin[0])
	}
	url := s.wait(t, `^isle: serving fn on (http://\S+)$`)[1]
	s.wait(t, `^isle: shop is up`)
	for _, c := range []struct {
		path string
		want int
	}{{"/hello", 200}, {"/die", 502}, {"/hello", 200}} {
		if got := get(t, url+c.path); got != c.want {
			t.Fatalf("%s: %d, want %d", c.path, got, c.want)
		}
	}
	var body string
	testwasm.WaitFor(t, "fn's restart in /metrics", func() bool {
		var code int
		code, body = getBody(t, admin[1]+"metrics", "")
		return code == 200 && metric(t, body, "isle_restarts_total", "service=fn") == 1
	})
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"isle_http_requests_total", []string{"route=fn", "class=2xx"}, 2},
		{"isle_http_requests_total", []string{"route=fn", "class=5xx"}, 1},
		{"isle_exits_total", []string{"service=fn", "kind=abandoned", "cause=unreachable"}, 1},
		{"isle_spawns_total", []string{"service=fn"}, 2},
		{"isle_spawns_total", []string{"service=back/store"}, 1},
	} {
		if got := metric(t, body, c.name, c.labels...); got != c.want {
			t.Errorf("%s{%s} = %v; want %v", c.name, strings.Join(c.labels, ","), got, c.want)
		}
	}
	code, snap := getBody(t, admin[1]+"snapshot", "")
	var frame struct {
		Tree []struct {
			Name     string
			Children []struct{ Name, Path string }
		}
		Crashes []struct{ Service, Trace string }
	}
	if err := json.Unmarshal([]byte(snap), &frame); code != 200 || err != nil {
		t.Fatalf("/snapshot: %d %v", code, err)
	}
	if len(frame.Tree) != 1 || frame.Tree[0].Name != "shop" || len(frame.Tree[0].Children) != 3 ||
		len(frame.Crashes) != 1 || frame.Crashes[0].Service != "fn" || frame.Crashes[0].Trace == "" {
		t.Fatalf("/snapshot: %s", snap)
	}
	if status := s.stop(t, syscall.SIGTERM); status != 0 {
		t.Fatalf("status %d", status)
	}
}

// Bound beyond loopback, the admin listener refuses requests without its
// token: the one in $ISLE_ADMIN_TOKEN (never printed), or else one it
// makes and prints.
func TestAdminNeedsTokenBeyondLoopback(t *testing.T) {
	mod := testwasm.C(t, "testdata/c/svc.c", "-O2", "-mexec-model=reactor")
	for _, env := range []string{"", "from-the-env-0123"} {
		t.Run("env="+env, func(t *testing.T) {
			t.Setenv(adminTokenEnv, env)
			s := startIsle(t, "run", "--admin", "0.0.0.0:0", mod)
			m := s.wait(t, adminLine)
			token := m[3]
			switch {
			case env != "" && token != "$"+adminTokenEnv:
				t.Fatalf("token printed as %q; want the variable's name, not its secret", token)
			case env != "":
				token = env
			case !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(token):
				t.Fatalf("made-up token %q; want 32 hex digits", token)
			}
			port := m[1][strings.LastIndex(m[1], ":")+1:]
			base := "http://127.0.0.1:" + port
			if code, _ := getBody(t, base+"/metrics", ""); code != http.StatusUnauthorized {
				t.Errorf("no token: %d; want 401", code)
			}
			if code, _ := getBody(t, base+"/metrics", "wrong"); code != http.StatusUnauthorized {
				t.Errorf("wrong token: %d; want 401", code)
			}
			if code, _ := getBody(t, base+"/metrics", token); code != http.StatusOK {
				t.Errorf("bearer token: %d; want 200", code)
			}
			if code, _ := getBody(t, base+"/?token="+token, ""); code != http.StatusOK {
				t.Errorf("token in the query: %d; want 200", code)
			}
		})
	}
}

// chromium finds Debian's headless browser; CI installs it (.ci/run).
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no chromium: .ci/run installs Debian's chromium package")
	}
	t.Skip("no chromium; apt-get install -y chromium")
	return ""
}

// The dashboard, loaded in headless Chromium against a running node,
// shows the supervision tree's services, then a crash report, with its
// trace id, as soon as a service crashes. With ISLE_DASHBOARD_PNG set, it
// saves a screenshot there (docs/dashboard.png is made so).
func TestDashboardInChromium(t *testing.T) {
	t.Parallel()
	browser := chromium(t)
	s := startIsle(t, "up", adminApp(t))
	admin := s.wait(t, adminLine)[1]
	url := s.wait(t, `^isle: serving fn on (http://\S+)$`)[1]
	s.wait(t, `^isle: shop is up`)

	alloc, cancel := chromedp.NewExecAllocator(testwasm.Context(t), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser), chromedp.NoSandbox, chromedp.WindowSize(1280, 860))...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	err := chromedp.Do(ctx, chromedp.Navigate(admin),
		chromedp.WaitVisible(chromedp.CSS(`li.service[data-path="back/store"]`)))
	if err != nil {
		t.Fatalf("load the dashboard: %v\n%s", err, s.stderr())
	}
	tree, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#tree")))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"shop", "helper", "fn", "back", "back/store"} {
		if !strings.Contains(tree, want) {
			t.Errorf("tree %q lacks %s", tree, want)
		}
	}
	if crashes, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#crashes"))); err != nil || !strings.Contains(crashes, "none") {
		t.Fatalf("crash reports before any crash: %q, %v", crashes, err)
	}
	// The page is open; now a crash, which must appear without a reload.
	for _, path := range []string{"/hello", "/die"} {
		get(t, url+path)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`.crash[data-service="fn"] .trace`))); err != nil {
		t.Fatalf("wait for the crash report: %v", err)
	}
	crashes, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#crashes")))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`fn pid \d+ .*abandoned: unreachable.*trace [0-9a-f]{16}`).MatchString(crashes) {
		t.Errorf("crash report %q", crashes)
	}
	if out := os.Getenv("ISLE_DASHBOARD_PNG"); out != "" {
		screenshot(t, ctx, url, out)
	}
}

// screenshot drives some traffic for a few frames, a crash every two
// seconds among it, so that the charts have something to show, and saves
// the page as a PNG.
func screenshot(t *testing.T, ctx context.Context, url, out string) {
	pace := time.NewTicker(2 * time.Millisecond)
	defer pace.Stop()
	start := time.Now()
	crashes := 0
	for time.Since(start) < 8*time.Second {
		<-pace.C
		path := "/hello"
		if time.Since(start) > time.Duration(crashes+1)*2*time.Second {
			path = "/die"
			crashes++
		}
		get(t, url+path)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// On loopback without a token, the admin listener answers only to loopback
// host names (a page rebinding its DNS name to 127.0.0.1 gets 403); with
// $ISLE_ADMIN_TOKEN set, it needs the token there too.
func TestAdminOnLoopback(t *testing.T) {
	mod := testwasm.C(t, "testdata/c/svc.c", "-O2", "-mexec-model=reactor")
	for _, env := range []string{"", "loopback-secret"} {
		t.Run("env="+env, func(t *testing.T) {
			t.Setenv(adminTokenEnv, env)
			s := startIsle(t, "run", "--admin", ":0", mod)
			url := s.wait(t, adminLine)[1]
			get := func(host, token string) int {
				req, _ := http.NewRequest("GET", url+"metrics", nil)
				req.Host = host
				if token != "" {
					req.Header.Set("Authorization", "Bearer "+token)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.StatusCode
			}
			if env == "" {
				if code := get("rebound.example:80", ""); code != http.StatusForbidden {
					t.Errorf("a foreign Host: %d; want 403", code)
				}
				if code := get("localhost", ""); code != http.StatusOK {
					t.Errorf("Host localhost: %d; want 200", code)
				}
				return
			}
			if code := get("127.0.0.1", ""); code != http.StatusUnauthorized {
				t.Errorf("no token with $%s set: %d; want 401", adminTokenEnv, code)
			}
			if code := get("127.0.0.1", env); code != http.StatusOK {
				t.Errorf("the token: %d; want 200", code)
			}
		})
	}
}

// Bound to loopback without a token, the admin listener serves only its
// own user (and root): another local user's connection is closed before
// a byte is read, and the first refusal is logged. Before, any local user
// could read the dashboard and metrics, and hold all 16 dashboard streams
// so that the owner got 503. Needs root, to connect as another user, and
// curl.
func TestAdminOnLoopbackServesOnlyItsUser(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("connecting as another user needs root")
	}
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("needs curl")
	}
	t.Setenv(adminTokenEnv, "")
	mod := testwasm.C(t, "testdata/c/svc.c", "-O2", "-mexec-model=reactor")
	s := startIsle(t, "run", "--admin", ":0", mod)
	url := s.wait(t, adminLine)[1]
	if code, _ := getBody(t, url+"metrics", ""); code != http.StatusOK {
		t.Fatalf("the owner's request: %d; want 200", code)
	}
	other := exec.Command(curl, "-sS", "-o", "/dev/null", "-w", "%{http_code}", url+"metrics")
	other.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := other.CombinedOutput()
	if err == nil || strings.HasPrefix(string(out), "200") {
		t.Fatalf("another user's request was answered: %q, %v", out, err)
	}
	s.wait(t, `^isle: admin: refused a connection from 127\.0\.0\.1:\d+, as it is not this user's \(uid 0\): it belongs to uid 65534`)
	if code, _ := getBody(t, url+"metrics", ""); code != http.StatusOK {
		t.Fatalf("the owner's request after another's: %d; want 200", code)
	}
}
