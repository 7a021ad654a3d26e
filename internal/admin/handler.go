package admin

import (
	"crypto/subtle"
	"embed"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

//go:embed static
var static embed.FS

// Options configure Handler.
type Options struct {
	// Token, if set, must come with every request, as "Authorization:
	// Bearer TOKEN" or as the query parameter token=TOKEN (the dashboard's
	// event stream cannot set headers).
	Token string
}

// Handler returns the admin endpoints of the node src reads:
//
//	/          the dashboard (HTML and a small script, no external assets)
//	/events    the dashboard's feed, as Server-Sent Events
//	/snapshot  one frame of that feed, as JSON
//	/metrics   Prometheus metrics, with the Go runtime's
func Handler(src Source, opts Options) http.Handler {
	reg := prometheus.NewRegistry()
	// No process collector: it reads /proc on every scrape, which costs
	// three times the rest of a scrape together (bench "metrics").
	reg.MustRegister(NewCollector(src), collectors.NewGoCollector())
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	d := &dashboard{src: src}
	mux.HandleFunc("GET /events", d.events)
	mux.HandleFunc("GET /snapshot", d.snapshot)
	mux.HandleFunc("GET /{$}", page("static/index.html", "text/html; charset=utf-8"))
	mux.HandleFunc("GET /app.js", page("static/app.js", "text/javascript; charset=utf-8"))
	if opts.Token == "" {
		return mux
	}
	return tokenGuard(opts.Token, mux)
}

func page(name, ctype string) http.HandlerFunc {
	b, err := static.ReadFile(name)
	if err != nil {
		panic(err) // embedded: present by construction
	}
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(b)
	}
}

// tokenGuard refuses requests without the token, comparing in constant
// time.
func tokenGuard(token string, next http.Handler) http.Handler {
	want := []byte(token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := r.URL.Query().Get("token")
		if h, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			got = h
		}
		if subtle.ConstantTimeCompare([]byte(got), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="isle admin"`)
			http.Error(w, "this admin listener needs its token: send Authorization: Bearer TOKEN, or add ?token=TOKEN", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}
