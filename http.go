package isle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/isle-run/isle/internal/httpwire"
	"github.com/isle-run/isle/internal/kernel"
)

// TagHTTP is the tag of an HTTP request message and of its reply: "HTTP"
// in ASCII. docs/ABI.md, section "HTTP", gives the encoding of both.
const TagHTTP = httpwire.Tag

// Defaults of HTTPIngress.
const (
	// DefaultHTTPMaxBody bounds a request body; a longer one gets 413.
	DefaultHTTPMaxBody = 1 << 20
	// DefaultHTTPTimeout bounds how long the process may take to answer;
	// after it the client gets 504.
	DefaultHTTPTimeout = 30 * time.Second
)

// HTTPIngress serves HTTP with a process, as a serverless platform serves
// a function: each request becomes a request message to the process (tag
// TagHTTP), and its reply becomes the response. Requests are independent
// messages, so any number may be in flight; the process's mailbox queues
// them and its bound applies backpressure.
//
// The client gets 502 Bad Gateway when the process has ended or ends
// before it answers, or answers with something that is not a valid
// response; 504 Gateway Timeout when it does not answer within Timeout;
// and 413 when the request body is over MaxBody.
type HTTPIngress struct {
	// MaxBody bounds a request body in bytes (default DefaultHTTPMaxBody).
	MaxBody int64
	// Timeout bounds the wait for the reply (default DefaultHTTPTimeout).
	Timeout time.Duration
	p       *Process
}

// HTTPHandler returns an http.Handler that serves every request it gets
// with p. Mount it on any route of any server:
//
//	mux.Handle("/fn/", http.StripPrefix("/fn", isle.HTTPHandler(p)))
func HTTPHandler(p *Process) *HTTPIngress {
	return &HTTPIngress{MaxBody: DefaultHTTPMaxBody, Timeout: DefaultHTTPTimeout, p: p}
}

// hopByHop are the headers that describe one connection, not the
// message; the server sets its own, so a process's are dropped, and so is
// its Content-Length, which the host computes.
var hopByHop = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Transfer-Encoding": true,
	"Te": true, "Trailer": true, "Upgrade": true, "Content-Length": true,
}

// ServeHTTP sends r to the process and writes its reply.
func (h *HTTPIngress) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	limit := h.MaxBody
	if limit <= 0 {
		limit = DefaultHTTPMaxBody
	}
	if r.ContentLength > limit {
		http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
		return
	}
	target := r.RequestURI
	if target == "" {
		target = r.URL.RequestURI() // a request built in Go rather than read from a client
	}
	req := httpwire.Request{Method: r.Method, Target: target, Header: requestFields(r)}
	// The body is the rest of the encoding, so it is read straight onto
	// the end of the head: one buffer, no copy.
	b := make([]byte, 0, httpwire.RequestSize(&req)+int(max(r.ContentLength, 0)))
	buf := bytes.NewBuffer(httpwire.AppendRequest(b, &req))
	if r.Body == http.NoBody {
		// Nothing to read: ReadFrom would still grow the buffer first.
	} else if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, limit)); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
		} else {
			http.Error(w, "reading the request body: "+err.Error(), http.StatusBadRequest)
		}
		return
	}
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = DefaultHTTPTimeout
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	reply, err := h.p.n.k.HostCall(ctx, h.p.p, &kernel.Message{Tag: TagHTTP, Data: buf.Bytes()})
	if err != nil {
		switch {
		case errors.Is(err, kernel.ErrGone):
			h.fail(w, http.StatusBadGateway, "the process serving this route has ended")
		case r.Context().Err() != nil:
			// The client went away; nobody reads an answer.
		case errors.Is(err, context.DeadlineExceeded):
			h.fail(w, http.StatusGatewayTimeout, "the process did not answer within "+timeout.String())
		default:
			h.fail(w, http.StatusBadGateway, err.Error())
		}
		return
	}
	for _, c := range reply.Caps {
		c.Release() // handles mean nothing to an HTTP client
	}
	if reply.Tag != TagHTTP {
		h.fail(w, http.StatusBadGateway, fmt.Sprintf("the process replied with tag %#x, not TagHTTP", reply.Tag))
		return
	}
	resp, err := httpwire.ParseResponse(reply.Data)
	if err == nil {
		err = checkResponse(&resp)
	}
	if err != nil {
		h.fail(w, http.StatusBadGateway, "the process's reply is not a valid response: "+err.Error())
		return
	}
	hdr := w.Header()
	for _, f := range resp.Header {
		if k := http.CanonicalHeaderKey(f.Name); !hopByHop[k] {
			hdr[k] = append(hdr[k], f.Value)
		}
	}
	hdr.Set("Content-Length", strconv.Itoa(len(resp.Body)))
	w.WriteHeader(resp.Status)
	_, _ = w.Write(resp.Body)
}

// fail answers for the process, and logs why.
func (h *HTTPIngress) fail(w http.ResponseWriter, status int, msg string) {
	h.p.n.log.Warn("http ingress", "pid", h.p.ID(), "status", status, "error", msg)
	http.Error(w, msg, status)
}

// checkResponse refuses what a server must not send: a status that is not
// final, or a header that could split the response.
func checkResponse(r *httpwire.Response) error {
	if r.Status < 200 || r.Status > 599 {
		return fmt.Errorf("status %d is not between 200 and 599", r.Status)
	}
	return httpwire.Check(r.Header)
}

// requestFields flattens r's header for the process: Host first (Go's
// server keeps it apart from the others), then the rest sorted by name,
// each name's values in the order received.
func requestFields(r *http.Request) []httpwire.Field {
	names := make([]string, 0, len(r.Header))
	n := 1
	for k, vs := range r.Header {
		names = append(names, k)
		n += len(vs)
	}
	sort.Strings(names)
	out := make([]httpwire.Field, 0, n)
	out = append(out, httpwire.Field{Name: "Host", Value: r.Host})
	for _, k := range names {
		for _, v := range r.Header[k] {
			out = append(out, httpwire.Field{Name: k, Value: v})
		}
	}
	return out
}
