package main

import (
	"fmt"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/internal/manifest"
)

// addServiceCap grants the capabilities of services that live in their
// own packages: key-value and HTTP.
func addServiceCap(g *isle.Grants, c manifest.Cap) error {
	switch c.Kind {
	case "kv":
		g.Caps[c.Name] = isle.KVCap(c.Bucket, c.Rights)
	case "http":
		g.Caps[c.Name] = isle.HTTPCap(c.Allow...)
	default:
		return fmt.Errorf("unknown kind %q", c.Kind)
	}
	return nil
}
