package bench

import (
	"context"
	"testing"
	"time"
)

// The HTTP ingress row, at the quick size: both sides answer, and the
// figures are rates.
func TestHTTPIngressRow(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	h, err := newHarness(ctx, Options{Quick: true, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	var r Report
	if err := runHTTPIngress(h, &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Rows) != 1 {
		t.Fatalf("%d rows", len(r.Rows))
	}
	row := r.Rows[0]
	checkFigure(t, row, row.Isle, false)
	checkFigure(t, row, row.Peer, false)
	t.Logf("isle %.0f req/s, net/http %.0f req/s", row.Isle.Median(), row.Peer.Median())
}
