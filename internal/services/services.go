// Package services links every kind of capability into a program:
// importing it runs the init function with which each kind's package
// registers its descriptor (see internal/capkind). A new kind's package
// is listed here, and nowhere else.
package services

import (
	// The kernel's own kinds: process, reply, spawner, revoker.
	_ "github.com/isle-run/isle/internal/abi"
	_ "github.com/isle-run/isle/internal/services/clock"
	_ "github.com/isle-run/isle/internal/services/dirs"
	_ "github.com/isle-run/isle/internal/services/httpcap"
	_ "github.com/isle-run/isle/internal/services/kv"
	_ "github.com/isle-run/isle/internal/services/logsvc"
	_ "github.com/isle-run/isle/internal/services/random"
)
