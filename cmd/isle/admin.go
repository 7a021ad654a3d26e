package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/isle-run/isle"
)

// adminTokenEnv names the environment variable that sets the admin
// listener's token when it is bound beyond loopback.
const adminTokenEnv = "ISLE_ADMIN_TOKEN"

// adminAddr resolves an --admin address: a bare ":PORT" means loopback.
// It reports whether the address is loopback only; anything else needs a
// token.
func adminAddr(addr string) (string, bool, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", false, usagef("--admin %q is not HOST:PORT; write it like 127.0.0.1:9090 or :9090", addr)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	loopback := host == "localhost"
	if ip := net.ParseIP(host); ip != nil {
		loopback = ip.IsLoopback()
	}
	return net.JoinHostPort(host, port), loopback, nil
}

// startAdmin serves node's admin endpoints (the dashboard and /metrics)
// on addr until stop is called. Bound beyond loopback it requires a
// token: $ISLE_ADMIN_TOKEN, or one it makes and prints.
func startAdmin(node *isle.Node, addr string, stderr io.Writer) (stop func(), err error) {
	addr, loopback, err := adminAddr(addr)
	if err != nil {
		return nil, err
	}
	// A token in the environment is required wherever the listener is;
	// beyond loopback one is required anyway, and made up if not given.
	token, made := os.Getenv(adminTokenEnv), false
	if token == "" && !loopback {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("make an admin token: %w", err)
		}
		token, made = hex.EncodeToString(b), true
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, usagef("--admin %s: %v", addr, err)
	}
	errLog := log.New(stderr, "isle: admin: ", 0)
	if token == "" {
		ln = &ownerOnly{Listener: ln, uid: uint32(os.Getuid()), errLog: errLog}
	}
	srv := &http.Server{
		Handler:           loopbackHosts(token == "", node.AdminHandler(token)),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          errLog,
	}
	url := "http://" + ln.Addr().String() + "/"
	switch {
	case token == "":
		fmt.Fprintf(stderr, "isle: admin dashboard on %s, metrics on %smetrics (for this user only: set $%s to require a token instead)\n", url, url, adminTokenEnv)
	case made:
		fmt.Fprintf(stderr, "isle: admin dashboard on %s?token=%s, metrics on %smetrics (send Authorization: Bearer %s)\n",
			url, token, url, token)
	default: // the user's own token is not echoed into logs
		fmt.Fprintf(stderr, "isle: admin dashboard on %s?token=$%s, metrics on %smetrics (send Authorization: Bearer $%s)\n",
			url, adminTokenEnv, url, adminTokenEnv)
	}
	go func() { _ = srv.Serve(ln) }()
	return func() { _ = srv.Close() }, nil
}

// loopbackHosts, when on, refuses requests whose Host is not a loopback
// name: a listener without a token must not be readable by a web page that
// rebinds its own DNS name to 127.0.0.1.
func loopbackHosts(on bool, next http.Handler) http.Handler {
	if !on {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		ip := net.ParseIP(strings.Trim(host, "[]"))
		if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			http.Error(w, "this admin listener answers only to a loopback host name (localhost, 127.0.0.1, [::1])", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}
