//go:build !linux

package control

import (
	"errors"
	"net"
)

// peerUID is unsupported here, so every connection is refused: without
// the peer's credentials the socket's mode would be the only guard.
func peerUID(*net.UnixConn) (int, error) {
	return -1, errors.New("peer credentials are only read on Linux")
}
