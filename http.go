package isle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strconv"
	"time"

	"github.com/isle-run/isle/internal/httpwire"
	"github.com/isle-run/isle/internal/kernel"
	"github.com/isle-run/isle/internal/tracing"
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
	// DefaultHTTPBodyTimeout bounds how long a client may take to send its
	// request body; a slower one is cut off with 408.
	DefaultHTTPBodyTimeout = 10 * time.Second
)

// HTTPIngress serves HTTP with a process, as a serverless platform serves
// a function: each request becomes a request message to the process (tag
// TagHTTP), and its reply becomes the response. Requests are independent
// messages, so any number may be in flight; the process's mailbox queues
// them and its bound applies backpressure.
//
// A request counts against the process's mailbox and memory account from
// before its body is read: room for the whole body (its Content-Length,
// or MaxBody when the client does not say) is reserved first. So many
// slow uploads to a slow process cannot hold more than one mailbox's worth
// of memory (kernel.MailboxBytes, 16 MiB): past it, the client gets 503
// Service Unavailable at once, with Retry-After. A client that sends
// "Expect: 100-continue" (curl does for large bodies) gets it before
// sending its body; one that sends the body regardless may see the
// connection closed under the upload instead, since net/http's server does
// not read more than 256 KiB of a body its handler refused.
//
// The client gets 502 Bad Gateway when the process has ended or ends
// before it answers, or answers with something that is not a valid
// response; 504 Gateway Timeout when it does not answer within Timeout;
// 413 when the request body is over MaxBody; and 408 when the body does
// not arrive within BodyTimeout.
type HTTPIngress struct {
	// MaxBody bounds a request body in bytes (default DefaultHTTPMaxBody).
	MaxBody int64
	// Timeout bounds the wait for the reply (default DefaultHTTPTimeout).
	Timeout time.Duration
	// BodyTimeout bounds the wait for the request body (default
	// DefaultHTTPBodyTimeout). It needs a server that supports read
	// deadlines (http.ResponseController), as net/http's does.
	BodyTimeout time.Duration
	n           *Node
	target      kernel.Target // a *kernel.Process, or a *kernel.Service
}

// HTTPHandler returns an http.Handler that serves every request it gets
// with p. Mount it on any route of any server:
//
//	mux.Handle("/fn/", http.StripPrefix("/fn", isle.HTTPHandler(p)))
func HTTPHandler(p *Process) *HTTPIngress {
	return &HTTPIngress{MaxBody: DefaultHTTPMaxBody, Timeout: DefaultHTTPTimeout, BodyTimeout: DefaultHTTPBodyTimeout,
		n: p.n, target: p.p}
}

// ServiceHTTPHandler returns an http.Handler that serves every request it
// gets with a supervised service: when its instance crashes in the middle
// of a request, that request gets 502, and the next ones are served by the
// restarted instance (they wait in the service while it restarts, their
// bodies reserved in its queue, which has a mailbox's bounds: past it,
// 503 with Retry-After, as for a running instance).
func ServiceHTTPHandler(s *Service) *HTTPIngress {
	return &HTTPIngress{MaxBody: DefaultHTTPMaxBody, Timeout: DefaultHTTPTimeout, BodyTimeout: DefaultHTTPBodyTimeout,
		n: s.n, target: s.s}
}

// reserve holds room for a request of n bytes in the serving process's
// mailbox, or, for a service between instances, in the queue where its
// requests wait for the next one, which has a mailbox's bounds.
func (h *HTTPIngress) reserve(n int64) (*kernel.Reservation, error) {
	if s, ok := h.target.(*kernel.Service); ok {
		return s.Reserve(n)
	}
	return h.target.(*kernel.Process).Reserve(n)
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
	sw := &statusWriter{ResponseWriter: w}
	defer h.n.obs.countHTTP(h.route(), sw) // for the admin endpoints' metrics
	w = sw
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
	body := r.ContentLength
	if body < 0 {
		body = limit // unknown: room for the most it may be
	}
	if r.Body == http.NoBody {
		body = 0
	}
	size := int64(httpwire.RequestSize(&req)) + body
	hold, err := h.reserve(size)
	if err != nil {
		h.refuse(w, err)
		return
	}
	if hold != nil {
		defer hold.Release()
	}
	// The body is the rest of the encoding, so it is read straight onto
	// the end of the head: one buffer, no copy.
	want := size
	if r.ContentLength < 0 {
		want = size - body + 4096 // grown as it arrives, within the reservation
	}
	buf := bytes.NewBuffer(httpwire.AppendRequest(make([]byte, 0, want), &req))
	if body > 0 {
		if err := h.readBody(w, r, buf, limit); err != nil {
			return
		}
	}
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = DefaultHTTPTimeout
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	m := &kernel.Message{Tag: TagHTTP, Data: buf.Bytes()}
	if hold != nil {
		m.Hold(hold)
	}
	end := tracing.Host(ctx, h.n.tracer, "http", true, m)
	reply, err := h.n.k.HostCall(ctx, h.target, m)
	end(err)
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

// readBody reads r's body onto buf within BodyTimeout, answering the
// client itself when it cannot.
func (h *HTTPIngress) readBody(w http.ResponseWriter, r *http.Request, buf *bytes.Buffer, limit int64) error {
	bodyTimeout := h.BodyTimeout
	if bodyTimeout <= 0 {
		bodyTimeout = DefaultHTTPBodyTimeout
	}
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(bodyTimeout)) // servers without deadlines get none
	_, err := buf.ReadFrom(http.MaxBytesReader(unwrapWriter(w), r.Body, limit))
	var tooBig *http.MaxBytesError
	switch {
	case err == nil:
		// Lifted only now: a connection whose body was cut off must not
		// wait out the rest of it while the server drains it.
		_ = rc.SetReadDeadline(time.Time{})
		return nil
	case errors.As(err, &tooBig):
		http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
	case errors.Is(err, os.ErrDeadlineExceeded):
		w.Header().Set("Connection", "close")
		http.Error(w, "the request body did not arrive within "+bodyTimeout.String(), http.StatusRequestTimeout)
	default:
		http.Error(w, "reading the request body: "+err.Error(), http.StatusBadRequest)
	}
	return err
}

// refuse answers a request the process has no room for.
func (h *HTTPIngress) refuse(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, kernel.ErrGone):
		h.fail(w, http.StatusBadGateway, "the process serving this route has ended")
	default: // its mailbox or its memory is full: come back later
		// Logged at debug only: under load this is every request.
		h.n.log.Debug("http ingress", "target", h.name(), "status", http.StatusServiceUnavailable, "error", err.Error())
		w.Header().Set("Retry-After", "1")
		http.Error(w, "the process serving this route is busy: "+err.Error(), http.StatusServiceUnavailable)
	}
}

// fail answers for the process, and logs why.
func (h *HTTPIngress) fail(w http.ResponseWriter, status int, msg string) {
	h.n.log.Warn("http ingress", "target", h.name(), "status", status, "error", msg)
	http.Error(w, msg, status)
}

// name names what is served, for logs.
func (h *HTTPIngress) name() string {
	if s, ok := h.target.(*kernel.Service); ok {
		return "service " + s.Name
	}
	return fmt.Sprintf("pid %d", h.target.(*kernel.Process).ID)
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
