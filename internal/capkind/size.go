package capkind

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseSize parses sizes such as 64MiB, 512KiB, 1GiB, 10MB or 65536, from
// 1 byte to most bytes; maxName is how an error writes most ("4GiB").
func ParseSize(v string, most uint64, maxName string) (uint64, error) {
	units := []struct {
		suffix string
		mult   float64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
		{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40}, {"B", 1}}
	num, mult := v, 1.0
	for _, u := range units {
		if s, ok := strings.CutSuffix(v, u.suffix); ok {
			num, mult = strings.TrimSpace(s), u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(num, 64)
	if err != nil || n*mult < 1 || n*mult > float64(most) || n*mult != n*mult {
		return 0, fmt.Errorf("%q is not a size between 1B and %s; write it like 64MiB, 512KiB or 1GiB", v, maxName)
	}
	return uint64(n * mult), nil
}
