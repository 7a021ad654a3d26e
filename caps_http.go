package isle

import (
	"github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/services/httpcap"
)

// HTTPCap grants HTTP requests to the origins in allow and nowhere else.
// An origin is scheme://host[:port] with the scheme http or https, such as
// "https://api.example.com" or "http://127.0.0.1:8080"; a default port
// may be given or left out, and there are no wildcards. A request to any
// other origin, or a redirect to one, fails with ISLE_EDENIED before a
// connection is opened. Host names are resolved by the host's resolver.
//
// Each request is bounded by 30 seconds (a guest may ask for less) and
// ends at once when the process is killed; a response is at most 16 MiB.
// An invalid origin is reported when a process is spawned with the
// capability, naming the grant and the origin.
//
// Every process granted the same HTTPCap value shares one client and its
// pool of connections; the idle ones are closed when the last of them
// ends.
func HTTPCap(allow ...string) Capability {
	return Capability{kind: httpcap.Kind, rights: api.RightUse, spec: httpcap.NewGrant(allow)}
}
