package isle

import (
	"context"
	"net/url"
	"structs"

	"github.com/isle-run/isle/internal/httpwire"
)

// HTTP in this package is the wire level, without net/http, which would
// add about 2 MB to every Go guest that imports the SDK. Package
// github.com/isle-run/isle/sdk/go/isle/islehttp builds an http.Client and
// an http.Handler reactor on top of it.

// TagHTTP is the tag of an HTTP request message (see ServeHTTP in package
// islehttp and the host's isle.HTTPHandler) and of its reply: "HTTP" in
// ASCII.
const TagHTTP = httpwire.Tag

// HTTPRequest is an HTTP request as it crosses the ABI. For egress
// (HTTPDo) Target is an absolute URL; in an ingress request it is the
// request target as received, such as "/path?query", and the Host header
// comes first.
type HTTPRequest = httpwire.Request

// HTTPResponse is an HTTP response as it crosses the ABI.
type HTTPResponse = httpwire.Response

// HTTPField is one header line. A header with several values is several
// fields, in order.
type HTTPField = httpwire.Field

// httpInfo is what http_request writes about the response.
type httpInfo struct {
	_      structs.HostLayout
	len    uint32
	status uint32
}

// httpFirstRead is the buffer a response is first read into: most fit,
// and a bigger one is read whole with msg_read.
const httpFirstRead = 16 << 10

// HTTPDo sends req through the HTTP capability h and returns the response,
// following redirects to origins on the capability's list. The request
// waits until ctx's deadline, and never longer than the capability allows
// (30 seconds by default). Errors: ErrDenied (the URL, or a redirect, is
// off the list), ErrTimeout, ErrIO (the network failed), ErrTooBig (the
// response is over the host's limit, 16 MiB by default), ErrRights and
// ErrRevoked. A method, URL or header that HTTP forbids is misuse and
// abandons the process; CheckHTTPRequest finds it first.
func HTTPDo(ctx context.Context, h Handle, req *HTTPRequest) (HTTPResponse, error) {
	if err := CheckHTTPRequest(req); err != nil {
		return HTTPResponse{}, err
	}
	t, err := timeoutOf(ctx)
	if err != nil {
		return HTTPResponse{}, err
	}
	enc := httpwire.AppendRequest(make([]byte, 0, httpwire.RequestSize(req)), req)
	buf := make([]byte, httpFirstRead)
	mu.Lock()
	defer mu.Unlock()
	var in httpInfo
	rp, rn := bytesPtr(enc)
	bp, bn := bytesPtr(buf)
	r := abiHTTPRequest(uint32(h), rp, rn, bp, bn, t, &in)
	switch {
	case r >= 0:
		buf = buf[:r]
	case Errno(r) == ErrTooBig && in.len > uint32(len(buf)):
		// The response is the current message: read the rest of it.
		whole := make([]byte, in.len)
		k := copy(whole, buf)
		readRest(whole, k)
		buf = whole
	default:
		return HTTPResponse{}, Errno(r)
	}
	return httpwire.ParseResponse(buf)
}

// CheckHTTPRequest reports what makes req impossible to send whatever the
// capability: a method that is not an HTTP token, a target that is not an
// absolute URL, or a header name or value that is not valid (a value with
// a line break, say). Sending such a request is misuse, so HTTPDo checks
// first and returns the error.
func CheckHTTPRequest(req *HTTPRequest) error {
	if !httpwire.ValidMethod(req.Method) {
		return &httpError{"method " + quote(req.Method) + " is not an HTTP token"}
	}
	if u, err := url.Parse(req.Target); err != nil || u.Scheme == "" || (u.Host == "" && u.Opaque == "") {
		return &httpError{"target " + quote(req.Target) + " is not an absolute URL"}
	}
	if err := httpwire.Check(req.Header); err != nil {
		return &httpError{err.Error()}
	}
	return nil
}

type httpError struct{ msg string }

// Error implements error.
func (e *httpError) Error() string { return "isle: invalid HTTP request: " + e.msg }

func quote(s string) string { return "\"" + s + "\"" }

// IsHTTP reports whether m is an HTTP request message, as the host's
// HTTP ingress sends them.
func (m Message) IsHTTP() bool { return m.Tag == TagHTTP && m.IsRequest() }

// HTTPRequest decodes an HTTP request message. Its Body aliases m.Data.
func (m Message) HTTPRequest() (HTTPRequest, error) {
	if m.Tag != TagHTTP {
		return HTTPRequest{}, &httpError{"not an HTTP message"}
	}
	return httpwire.ParseRequest(m.Data)
}

// ReplyHTTP answers an HTTP request message with resp. The host refuses
// (with 502 to its client) a status outside 200–599 or an invalid header,
// and sets Content-Length and the connection's own headers itself.
func (m Message) ReplyHTTP(resp *HTTPResponse) error {
	return m.Reply(TagHTTP, httpwire.AppendResponse(make([]byte, 0, httpwire.ResponseSize(resp)), resp))
}
