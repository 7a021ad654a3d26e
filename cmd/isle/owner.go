package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

// ownerOnly is a loopback listener without a token that accepts only
// connections from sockets of its own user (or root): loopback TCP
// carries no credentials, but Linux lists every socket's owner in
// /proc/net/tcp and tcp6, keyed by its address, and a client's address
// is the accepted connection's remote one. Before, any local user could
// read the dashboard and metrics, and hold all 16 dashboard streams
// open so that the owner got 503 (found in review).
type ownerOnly struct {
	net.Listener
	uid    uint32
	errLog *log.Logger
	once   sync.Once
}

// Accept returns the next connection from the listener's user, closing
// any other.
func (l *ownerOnly) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		addr, _ := c.RemoteAddr().(*net.TCPAddr)
		uid, err := socketOwner(addr)
		if err == nil && (uid == l.uid || uid == 0) {
			return c, nil
		}
		_ = c.Close()
		if err == nil {
			err = fmt.Errorf("it belongs to uid %d", uid)
		}
		l.once.Do(func() {
			l.errLog.Printf("refused a connection from %v, as it is not this user's (uid %d): %v; only the first refusal is logged", addr, l.uid, err)
		})
	}
}

// errNoSocket is a peer address the kernel's socket tables do not list.
var errNoSocket = errors.New("no such socket in /proc/net/tcp or tcp6")

// socketOwner returns the uid owning the TCP socket bound to addr.
func socketOwner(addr *net.TCPAddr) (uint32, error) {
	if addr == nil {
		return 0, errNoSocket
	}
	want := procAddr(addr)
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		uid, err := ownerIn(table, want)
		if err == nil || !errors.Is(err, errNoSocket) {
			return uid, err
		}
	}
	return 0, errNoSocket
}

// ownerIn scans one socket table for a socket whose local address is
// want, and returns its uid (the eighth column).
func ownerIn(table, want string) (uint32, error) {
	f, err := os.Open(table)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // the header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 8 || fields[1] != want {
			continue
		}
		uid, err := strconv.ParseUint(fields[7], 10, 32)
		return uint32(uid), err
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, errNoSocket
}

// procAddr writes addr as the socket tables do: the address's 32-bit
// words each in hex in host (little-endian) order, a colon, the port in
// hex. An IPv4 address seen through an IPv6 socket is listed in tcp6.
func procAddr(addr *net.TCPAddr) string {
	ip := addr.IP.To4()
	if ip == nil || len(addr.IP) == net.IPv6len && !addr.IP.Equal(ip) {
		ip = addr.IP.To16()
	}
	var b strings.Builder
	for i := 0; i+4 <= len(ip); i += 4 {
		fmt.Fprintf(&b, "%08X", binary.LittleEndian.Uint32(ip[i:i+4]))
	}
	fmt.Fprintf(&b, ":%04X", addr.Port)
	return b.String()
}
