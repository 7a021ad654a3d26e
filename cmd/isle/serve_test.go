package main

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/isle-run/isle/internal/testwasm"
)

// isle run --http serves a reactor until it is interrupted.
func TestRunHTTP(t *testing.T) {
	t.Parallel()
	fn := testwasm.C(t, "testdata/c/httpfn.c", "-O2", "-mexec-model=reactor")
	ctx := testwasm.Context(t)
	cmd := exec.CommandContext(ctx, isleBin, "run", "--http", "127.0.0.1:0", fn)
	cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+cacheHome(t))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	addr := make(chan string, 1)
	rest := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		var lines []string
		re := regexp.MustCompile(`^isle: serving HTTP on (http://\S+)$`)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			} else {
				lines = append(lines, sc.Text())
			}
		}
		rest <- strings.Join(lines, "\n")
	}()
	url := testwasm.Await(t, addr, "isle run --http to print its address")

	resp, err := http.Post(url+"/fn?x=1", "text/plain", strings.NewReader("cli"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 || string(b) != "hello cli" || resp.Header.Get("X-Target") != "/fn?x=1" {
		t.Fatalf("response %d %q %v", resp.StatusCode, b, resp.Header)
	}

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	if ctx.Err() != nil {
		t.Fatal("isle run --http did not stop on SIGINT before the test's deadline")
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != statusInterrupt {
		t.Fatalf("exit: %v, want status %d\nstderr:\n%s", err, statusInterrupt, <-rest)
	}
	if _, err := http.Get(url + "/"); err == nil {
		t.Error("still serving after isle exited")
	}
}

func TestRunHTTPBadAddress(t *testing.T) {
	t.Parallel()
	fn := testwasm.C(t, "testdata/c/httpfn.c", "-O2", "-mexec-model=reactor")
	r := runIsle(t, "run", "--http", "127.0.0.1:99999", fn)
	r.want(t, statusUsage)
	if !strings.Contains(r.stderr, "--http 127.0.0.1:99999") {
		t.Errorf("stderr: %s", r.stderr)
	}
}
