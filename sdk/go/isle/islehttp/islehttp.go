// Package islehttp is net/http for isle guests written in Go: an
// http.Client whose requests go out through an HTTP capability, and a
// reactor that serves HTTP requests from the host with an ordinary
// http.Handler, as a function on a serverless platform.
//
//	client, err := islehttp.Client("api") // the grant's name
//	resp, err := client.Get("https://api.example.com/v1/items")
//
//	func init() { islehttp.Serve(http.HandlerFunc(hello)) } // a reactor
//
// It is a package of its own because net/http is large: a Go guest that
// imports only package isle does not link it.
package islehttp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"

	"github.com/isle-run/isle/sdk/go/isle"
)

// Transport is an http.RoundTripper that sends every request through the
// HTTP capability Cap. The host follows redirects (to origins on the
// capability's list only), so responses are final. A request to an
// origin off the list fails with an error that matches isle.ErrDenied.
type Transport struct {
	Cap isle.Handle
}

// Client returns an http.Client over the HTTP capability granted under
// name. It fails with isle.ErrNotFound if there is no such grant.
func Client(name string) (*http.Client, error) {
	h, err := isle.Grant(name)
	if err != nil {
		return nil, fmt.Errorf("islehttp: grant %q: %w", name, err)
	}
	return &http.Client{Transport: &Transport{Cap: h}}, nil
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		b, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
	}
	req := isle.HTTPRequest{Method: r.Method, Target: r.URL.String(), Header: fields(r.Header), Body: body}
	if req.Method == "" {
		req.Method = http.MethodGet
	}
	resp, err := isle.HTTPDo(r.Context(), t.Cap, &req)
	if err != nil {
		return nil, err
	}
	h := make(http.Header, len(resp.Header))
	for _, f := range resp.Header {
		k := http.CanonicalHeaderKey(f.Name)
		h[k] = append(h[k], f.Value)
	}
	return &http.Response{
		Status:        strconv.Itoa(resp.Status) + " " + http.StatusText(resp.Status),
		StatusCode:    resp.Status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader(resp.Body)),
		ContentLength: int64(len(resp.Body)),
		Request:       r,
	}, nil
}

// Serve makes this module a reactor that answers HTTP request messages
// (isle.TagHTTP) with h, as a serverless function: deploy it with the
// host's isle.HTTPHandler or `isle run --http ADDR`. Call it from an init
// function of package main, as isle.HandleFunc. Other requests are
// declined and other messages ignored. A panic in h abandons the process
// and its pending clients get 502.
func Serve(h http.Handler) {
	isle.HandleFunc(func(m isle.Message) {
		if !m.IsHTTP() {
			if m.IsRequest() {
				_ = m.Decline()
			}
			return
		}
		Handle(m, h)
	})
}

// Handle answers one HTTP request message with h. It is Serve's body, for
// a reactor that handles other messages too. A request that does not
// decode is answered with 400.
func Handle(m isle.Message, h http.Handler) {
	req, err := Request(context.Background(), m)
	w := &responseWriter{header: http.Header{}}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
	} else {
		h.ServeHTTP(w, req)
	}
	status := w.status
	if status == 0 {
		status = http.StatusOK
	}
	err = m.ReplyHTTP(&isle.HTTPResponse{Status: status, Header: fields(w.header), Body: w.body.Bytes()})
	if errors.Is(err, isle.ErrTooBig) {
		// The request is still unanswered: say why rather than leave the
		// client waiting for the host's timeout.
		msg := fmt.Sprintf("response of %d bytes is over the %d-byte message limit", w.body.Len(), isle.MaxMessage)
		_ = m.ReplyHTTP(&isle.HTTPResponse{Status: http.StatusInternalServerError,
			Header: []isle.HTTPField{{Name: "Content-Type", Value: "text/plain; charset=utf-8"}}, Body: []byte(msg)})
	}
}

// Request decodes an HTTP request message into an *http.Request for a
// server handler: URL, RequestURI, Host and Header are set as net/http's
// server sets them. RemoteAddr is empty: the host does not pass it.
func Request(ctx context.Context, m isle.Message) (*http.Request, error) {
	wr, err := m.HTTPRequest()
	if err != nil {
		return nil, err
	}
	u, err := url.ParseRequestURI(wr.Target)
	if err != nil {
		return nil, fmt.Errorf("islehttp: request target %q: %v", wr.Target, err)
	}
	r := &http.Request{
		Method:        wr.Method,
		URL:           u,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        make(http.Header, len(wr.Header)),
		Body:          http.NoBody,
		ContentLength: int64(len(wr.Body)),
		RequestURI:    wr.Target,
	}
	for _, f := range wr.Header {
		if k := http.CanonicalHeaderKey(f.Name); k == "Host" {
			r.Host = f.Value
		} else {
			r.Header[k] = append(r.Header[k], f.Value)
		}
	}
	if len(wr.Body) > 0 {
		r.Body = io.NopCloser(bytes.NewReader(wr.Body))
	}
	return r.WithContext(ctx), nil
}

// responseWriter collects a handler's response for the reply message.
type responseWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

// Header implements http.ResponseWriter.
func (w *responseWriter) Header() http.Header { return w.header }

// WriteHeader implements http.ResponseWriter.
func (w *responseWriter) WriteHeader(status int) {
	if w.status == 0 && status >= 200 {
		w.status = status // 1xx responses are informational; the final one counts
	}
}

// Write implements io.Writer.
func (w *responseWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.header.Get("Content-Type") == "" && w.body.Len() == 0 {
		w.header.Set("Content-Type", http.DetectContentType(b))
	}
	return w.body.Write(b)
}

// Flush does nothing: the response leaves as one reply once the handler
// returns.
func (w *responseWriter) Flush() {}

// fields flattens a header, names sorted, each name's values in order.
func fields(h http.Header) []isle.HTTPField {
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	sort.Strings(names)
	var out []isle.HTTPField
	for _, k := range names {
		for _, v := range h[k] {
			out = append(out, isle.HTTPField{Name: k, Value: v})
		}
	}
	return out
}
