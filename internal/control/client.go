package control

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"time"
)

// Client is a connection to a node's control socket.
type Client struct {
	c   net.Conn
	dec *json.Decoder
	enc *json.Encoder
}

// Dial connects to the socket at path.
func Dial(path string) (*Client, error) {
	c, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", path, unwrapSyscall(err))
	}
	return &Client{c: c, dec: json.NewDecoder(bufio.NewReaderSize(c, 64<<10)), enc: json.NewEncoder(c)}, nil
}

// unwrapSyscall keeps only the system's reason ("permission denied") of a
// net error, which otherwise repeats the path.
func unwrapSyscall(err error) error {
	var se *os.SyscallError
	if errors.As(err, &se) {
		return se.Err
	}
	return err
}

// Close closes the connection.
func (c *Client) Close() error { return c.c.Close() }

// Send sends a request without waiting for the answer.
func (c *Client) Send(req Request) error { return c.enc.Encode(req) }

// Next reads the next response; a response carrying an error is returned
// as one, wrapping ErrRefused when the node refused the connection.
func (c *Client) Next() (Response, error) {
	var r Response
	if err := c.dec.Decode(&r); err != nil {
		return r, fmt.Errorf("read from the node: %w", err)
	}
	if r.Error != "" {
		if strings.HasPrefix(r.Error, "refused: ") {
			return r, fmt.Errorf("%w: %s", ErrRefused, strings.TrimPrefix(r.Error, "refused: "))
		}
		return r, errors.New(r.Error)
	}
	return r, nil
}

// Do sends a request and reads its response.
func (c *Client) Do(req Request) (Response, error) {
	if err := c.Send(req); err != nil {
		// A node that refuses says why before it closes: that answer
		// is already here, and says more than the broken pipe.
		if r, rerr := c.Next(); rerr != nil && r.Error != "" {
			return r, rerr
		}
		return Response{}, fmt.Errorf("write to the node: %w", err)
	}
	return c.Next()
}

// Find returns the socket to use: flag if set, else $ISLE_NODE, else the
// one node of the user's that is running. With none it fails with
// ErrNoNode; with several it fails listing them.
func Find(flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	if env := os.Getenv(EnvNode); env != "" {
		return env, nil
	}
	dir := Dir()
	if _, err := os.Lstat(dir); err != nil {
		return "", fmt.Errorf("%w (no %s)", ErrNoNode, dir)
	}
	if err := checkDir(dir); err != nil {
		return "", err
	}
	paths, err := sockets(dir)
	if err != nil {
		return "", err
	}
	var live []NodeInfo
	for _, p := range paths {
		info, err := hello(p)
		if errors.Is(err, syscall.ECONNREFUSED) {
			_ = os.Remove(p) // left by a node that was killed: nobody listens
			continue
		}
		if err != nil {
			continue
		}
		live = append(live, info)
	}
	switch len(live) {
	case 0:
		return "", fmt.Errorf("%w (no socket in %s)", ErrNoNode, dir)
	case 1:
		return live[0].Socket, nil
	}
	var b strings.Builder
	for _, n := range live {
		fmt.Fprintf(&b, "\n  %s  pid %d, %s, up %s", n.Socket, n.PID, n.Command, time.Since(n.Started).Round(time.Second))
	}
	return "", fmt.Errorf("%d isle nodes of yours are running; pick one with --node SOCKET or %s=SOCKET:%s", len(live), EnvNode, b.String())
}

// hello asks the node at path who it is.
func hello(path string) (NodeInfo, error) {
	c, err := net.DialTimeout("unix", path, 2*time.Second)
	if err != nil {
		return NodeInfo{}, err
	}
	cl := &Client{c: c, dec: json.NewDecoder(c), enc: json.NewEncoder(c)}
	defer cl.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	r, err := cl.Do(Request{Op: OpHello})
	if err != nil {
		return NodeInfo{}, err
	}
	if r.Node == nil {
		return NodeInfo{}, errors.New("no answer")
	}
	info := *r.Node
	info.Socket = path
	return info, nil
}
