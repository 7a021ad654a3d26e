package control

import (
	"testing"

	"github.com/isle-run/isle"
)

// isle logs SERVICE keeps the records about that service: by the log
// capability's process name or a supervisor's service attribute. A path
// ending in "/" names no service and matches nothing, not every record
// that lacks the attribute.
func TestLogsFilterByService(t *testing.T) {
	web := isle.LogRecord{Attrs: []isle.LogAttr{{Key: "service", Value: "web"}}}
	guest := isle.LogRecord{Attrs: []isle.LogAttr{{Key: "name", Value: "web"}}}
	node := isle.LogRecord{Message: "the node's own"}
	for _, c := range []struct {
		r    isle.LogRecord
		name string
		want bool
	}{
		{web, "web", true}, {web, "front/web", true}, {guest, "web", true},
		{web, "db", false}, {node, "web", false}, {node, "front/", false}, {web, "front/", false},
	} {
		if got := about(c.r, c.name); got != c.want {
			t.Errorf("about(%v, %q) = %v; want %v", c.r.Attrs, c.name, got, c.want)
		}
	}
}
