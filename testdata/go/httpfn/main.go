// Command httpfn is a Go reactor deployed as an HTTP function: an ordinary
// http.Handler served through islehttp. Build with -buildmode=c-shared.
//
//	/hello?name=N  200 "hello, N" with X-Lang: go
//	/echo          the method, the X-Echo header and the body, echoed
//	/die           panics, abandoning the process
//	/huge          writes 2 MiB, over the reply limit
//	/egress?url=U  GETs U through the "net" grant and answers with its body
//	anything else  404
package main

import (
	"fmt"
	"io"
	"net/http"

	"github.com/isle-run/isle/sdk/go/isle/islehttp"
)

func init() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Lang", "go")
		fmt.Fprintf(w, "hello, %s", r.URL.Query().Get("name"))
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Method", r.Method)
		w.Header().Set("X-Host", r.Host)
		for _, v := range r.Header.Values("X-Echo") {
			w.Header().Add("X-Echo-Back", v)
		}
		w.WriteHeader(http.StatusAccepted)
		w.Write(b)
	})
	mux.HandleFunc("/huge", func(w http.ResponseWriter, r *http.Request) { w.Write(make([]byte, 2<<20)) })
	mux.HandleFunc("/die", func(http.ResponseWriter, *http.Request) { panic("asked to die") })
	mux.HandleFunc("/egress", func(w http.ResponseWriter, r *http.Request) {
		c, err := islehttp.Client("net")
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		resp, err := c.Get(r.URL.Query().Get("url"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	})
	islehttp.Serve(mux)
}

func main() {}
