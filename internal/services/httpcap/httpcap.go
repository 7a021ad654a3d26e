// Package httpcap is the HTTP egress capability: a client that reaches
// only an allowlist of origins.
//
// An origin is scheme://host[:port], with the scheme http or https, the
// host in lower case and the port left out when it is the scheme's
// default. A request is allowed when its URL's origin is exactly one on
// the list; there are no wildcards, so "https://example.com" does not
// allow "https://api.example.com" or "http://example.com".
//
// The check is made three times, on the same parsed URL the transport
// dials: before a request is sent, on every redirect (CheckRedirect), and
// in the dialer, on the host and port it is about to connect to. A
// request off the list therefore opens no connection at all. Names are
// resolved by the host's resolver, which is trusted: the list names
// hosts, not addresses, so a listed name that resolves to an internal
// address is reachable. Proxies from the environment are not used.
package httpcap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/isle-run/isle/internal/httpwire"
	"github.com/isle-run/isle/internal/kernel"
)

// Defaults and bounds.
const (
	// DefaultTimeout bounds one request, redirects and body included. A
	// guest may ask for less, never more.
	DefaultTimeout = 30 * time.Second
	// MaxResponse bounds an encoded response: status, headers and body.
	// A longer one fails with ETOOBIG, so that a guest cannot make the
	// host buffer without limit.
	MaxResponse = 16 << 20
	// MaxRequest bounds an encoded request.
	MaxRequest = 16 << 20
	// maxRedirects is how many redirects one request follows, as Go's
	// default client does.
	maxRedirects = 10
)

// Client is the object behind an http capability (kind Kind). It is safe for
// concurrent use, and shared by every process granted the same
// capability, so they share its connection pool.
type Client struct {
	origins map[string]bool // normalised origins
	addrs   map[string]bool // their host:port, as the transport dials them
	tr      *http.Transport
	hc      *http.Client
	// Timeout bounds each request; zero means DefaultTimeout.
	Timeout time.Duration
}

// New returns a client restricted to the origins in allow, each checked
// and normalised by Origin.
func New(allow []string) (*Client, error) {
	if len(allow) == 0 {
		return nil, errors.New("an HTTP capability needs at least one origin")
	}
	c := &Client{origins: map[string]bool{}, addrs: map[string]bool{}}
	for _, s := range allow {
		o, addr, err := Origin(s)
		if err != nil {
			return nil, err
		}
		c.origins[o], c.addrs[addr] = true, true
	}
	dialer := &net.Dialer{Timeout: DefaultTimeout, KeepAlive: 30 * time.Second}
	c.tr = &http.Transport{
		Proxy: nil, // the environment's proxy settings are the host's, not the guest's
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if !c.addrs[strings.ToLower(addr)] {
				return nil, fmt.Errorf("%w: %s is not on the allowlist", kernel.ErrDenied, addr)
			}
			return dialer.DialContext(ctx, network, addr)
		},
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           100,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 1 << 20,
	}
	c.hc = &http.Client{Transport: guard{c}, CheckRedirect: c.checkRedirect}
	return c, nil
}

// Close drops the client's idle connections.
func (c *Client) Close() error {
	c.tr.CloseIdleConnections()
	return nil
}

// Origins returns the allowlist, normalised and sorted.
func (c *Client) Origins() []string {
	out := make([]string, 0, len(c.origins))
	for o := range c.origins {
		out = append(out, o)
	}
	sort.Strings(out)
	return out
}

// OriginError is an allowlist entry that is not an origin.
type OriginError struct {
	Origin string // the entry as written
	Reason string // what is wrong with it
}

// Error implements error.
func (e *OriginError) Error() string { return fmt.Sprintf("origin %q: %s", e.Origin, e.Reason) }

// Origin checks an allowlist entry and returns it normalised, with the
// host:port the transport dials for it. Its error is an *OriginError.
func Origin(s string) (origin, addr string, err error) {
	bad := func(reason string) (string, string, error) { return "", "", &OriginError{Origin: s, Reason: reason} }
	u, err := url.Parse(s)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return bad(err.Error())
	}
	switch {
	case u.Scheme == "" || u.Host == "":
		return bad("want scheme://host[:port], such as https://example.com")
	case u.User != nil:
		return bad("an origin has no user information")
	case u.Path != "" && u.Path != "/", u.RawQuery != "", u.Fragment != "", u.ForceQuery:
		return bad("an origin has no path, query or fragment; the whole origin is allowed")
	case strings.Contains(u.Host, "*"):
		return bad("wildcards are not supported; list each origin")
	}
	origin, addr, err = originOf(u)
	if err != nil {
		return bad(err.Error())
	}
	return origin, addr, nil
}

// originOf returns u's normalised origin and dial address.
func originOf(u *url.URL) (origin, addr string, err error) {
	scheme := strings.ToLower(u.Scheme)
	var def string
	switch scheme {
	case "http":
		def = "80"
	case "https":
		def = "443"
	default:
		return "", "", fmt.Errorf("scheme %q is neither http nor https", u.Scheme)
	}
	if u.Opaque != "" {
		return "", "", errors.New("not a hierarchical URL")
	}
	host := strings.ToLower(u.Hostname())
	if host == "" {
		return "", "", errors.New("no host")
	}
	for i := 0; i < len(host); i++ {
		if host[i] >= 0x80 {
			return "", "", fmt.Errorf("host %q is not ASCII; use its punycode form", host)
		}
	}
	port := u.Port()
	if port != "" {
		// Only the canonical spelling matches, so that what was checked
		// is exactly what is dialled ("080" is refused, not read as 80).
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != port {
			return "", "", fmt.Errorf("port %q is not a port number", port)
		}
	}
	if port == "" {
		port = def
	}
	h := host
	if strings.Contains(h, ":") {
		h = "[" + h + "]"
	}
	origin = scheme + "://" + h
	if port != def {
		origin += ":" + port
	}
	return origin, net.JoinHostPort(host, port), nil
}

// Allowed reports whether u's origin is on the list.
func (c *Client) Allowed(u *url.URL) bool {
	o, _, err := originOf(u)
	return err == nil && c.origins[o]
}

func (c *Client) denied(u *url.URL) error {
	return fmt.Errorf("%w: %s is not on the allowlist", kernel.ErrDenied, u.Redacted())
}

// guard is the client's transport: it refuses a request off the list
// before the pool or the dialer sees it.
type guard struct{ c *Client }

// RoundTrip implements http.RoundTripper.
func (g guard) RoundTrip(r *http.Request) (*http.Response, error) {
	if !g.c.Allowed(r.URL) {
		if r.Body != nil {
			r.Body.Close()
		}
		return nil, g.c.denied(r.URL)
	}
	return g.c.tr.RoundTrip(r)
}

// checkRedirect follows a redirect only to an origin on the list.
func (c *Client) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("%w: stopped after %d redirects", kernel.ErrIO, maxRedirects)
	}
	if !c.Allowed(req.URL) {
		return fmt.Errorf("redirect from %s: %w", via[len(via)-1].URL.Redacted(), c.denied(req.URL))
	}
	return nil
}

// Check returns why req cannot be sent, whatever the list: a method,
// URL or header the wire format forbids. For a guest that is misuse.
func Check(req *httpwire.Request) (*url.URL, error) {
	if !httpwire.ValidMethod(req.Method) {
		return nil, fmt.Errorf("method %q is not an HTTP token", req.Method)
	}
	u, err := url.Parse(req.Target)
	if err != nil {
		return nil, fmt.Errorf("target: %v", err)
	}
	if u.Scheme == "" || (u.Host == "" && u.Opaque == "") {
		return nil, fmt.Errorf("target %q is not an absolute URL", req.Target)
	}
	if err := httpwire.Check(req.Header); err != nil {
		return nil, err
	}
	return u, nil
}

// Do sends req, whose URL is u (from Check), and returns the encoded
// response. ctx ends the request early (the process was killed); timeout,
// if positive and shorter than the client's, bounds it. Errors wrap
// kernel.ErrDenied (off the list), ErrTimeout, ErrTooBig (a response over
// MaxResponse) or ErrIO (anything the network did).
func (c *Client) Do(ctx context.Context, req *httpwire.Request, u *url.URL, timeout time.Duration) (resp []byte, status int, err error) {
	return c.DoWithin(ctx, req, u, timeout, nil)
}

// DoWithin is Do, reserving what the response holds, as it arrives, with
// reserve (nil: nothing); a refusal fails the request with reserve's
// error. What was reserved is len(resp), or nothing when it fails: the
// caller gives it back.
func (c *Client) DoWithin(ctx context.Context, req *httpwire.Request, u *url.URL, timeout time.Duration, reserve func(n int64) error) (resp []byte, status int, err error) {
	if !c.Allowed(u) {
		return nil, 0, c.denied(u)
	}
	limit := c.Timeout
	if limit <= 0 {
		limit = DefaultTimeout
	}
	if timeout > 0 && timeout < limit {
		limit = timeout
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var body io.Reader
	if len(req.Body) > 0 {
		body = bytes.NewReader(req.Body)
	}
	hr, err := http.NewRequestWithContext(ctx, req.Method, u.String(), body)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %v", kernel.ErrIO, err)
	}
	for _, f := range req.Header {
		// The Host header always names the URL's host: a guest cannot
		// reach another virtual host behind an allowed address.
		if !strings.EqualFold(f.Name, "Host") {
			hr.Header.Add(f.Name, f.Value)
		}
	}
	r, err := c.hc.Do(hr)
	if err != nil {
		return nil, 0, classify(ctx, err)
	}
	defer r.Body.Close()
	out := httpwire.Response{Status: r.StatusCode, Header: fields(r.Header)}
	head := httpwire.ResponseSize(&out)
	if head > MaxResponse {
		return nil, 0, fmt.Errorf("%w: response headers over %d bytes", kernel.ErrTooBig, MaxResponse)
	}
	if r.ContentLength > int64(MaxResponse-head) {
		return nil, 0, fmt.Errorf("%w: response of %d bytes is over %d", kernel.ErrTooBig, r.ContentLength, MaxResponse)
	}
	rr := &reservingReader{r: io.LimitReader(r.Body, int64(MaxResponse-head)+1), reserve: reserve}
	defer func() {
		if err != nil && reserve != nil {
			_ = reserve(-rr.reserved)
		}
	}()
	if err := rr.take(int64(head)); err != nil {
		return nil, 0, err
	}
	b := make([]byte, 0, head+max(0, int(min(r.ContentLength, 1<<20))))
	b = httpwire.AppendResponse(b, &out)
	buf := bytes.NewBuffer(b)
	if _, err := buf.ReadFrom(rr); err != nil {
		if rr.refused != nil {
			return nil, 0, rr.refused
		}
		return nil, 0, classify(ctx, err)
	}
	if buf.Len() > MaxResponse {
		return nil, 0, fmt.Errorf("%w: response over %d bytes", kernel.ErrTooBig, MaxResponse)
	}
	return buf.Bytes(), r.StatusCode, nil
}

// reservingReader reserves what it reads before handing it on, so that a
// response is held only as far as its process may hold it.
type reservingReader struct {
	r        io.Reader
	reserve  func(n int64) error // nil: reserve nothing
	reserved int64
	refused  error
}

func (rr *reservingReader) Read(p []byte) (int, error) {
	n, err := rr.r.Read(p)
	if n > 0 {
		if rerr := rr.take(int64(n)); rerr != nil {
			return 0, rerr
		}
	}
	return n, err
}

// take reserves n bytes more.
func (rr *reservingReader) take(n int64) error {
	if rr.reserve == nil {
		return nil
	}
	if err := rr.reserve(n); err != nil {
		rr.refused = fmt.Errorf("the response is larger than the process may hold: %w", err)
		return rr.refused
	}
	rr.reserved += n
	return nil
}

// classify maps a failed request to the error the guest sees.
func classify(ctx context.Context, err error) error {
	switch {
	case errors.Is(err, kernel.ErrDenied), errors.Is(err, kernel.ErrIO):
		return err
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("%w: %v", kernel.ErrTimeout, err)
	}
	return fmt.Errorf("%w: %v", kernel.ErrIO, err)
}

// fields flattens a header in a stable order: names sorted, values in
// the order received.
func fields(h http.Header) []httpwire.Field {
	names := make([]string, 0, len(h))
	n := 0
	for k, vs := range h {
		names = append(names, k)
		n += len(vs)
	}
	sort.Strings(names)
	out := make([]httpwire.Field, 0, n)
	for _, k := range names {
		for _, v := range h[k] {
			out = append(out, httpwire.Field{Name: k, Value: v})
		}
	}
	return out
}
