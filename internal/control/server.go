package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/isle-run/isle"
)

// maxRequest bounds one request line.
const maxRequest = 64 << 10

// Server serves a node's control socket.
type Server struct {
	node *isle.Node
	ln   *net.UnixListener
	info NodeInfo

	ctx         context.Context
	cancel      context.CancelFunc
	stopCluster func()
	wg          sync.WaitGroup
	mu          sync.Mutex
	conns       map[net.Conn]struct{}
}

// Listen opens the control socket of node, run by this process, in Dir;
// command describes the node to clients that must choose between several.
func Listen(node *isle.Node, command string) (*Server, error) {
	dir := Dir()
	if err := makeDir(dir); err != nil {
		return nil, err
	}
	return listenAt(node, command, SocketPath(dir, os.Getpid()))
}

// listenAt opens the socket at path, whose directory has been checked
// (or, in tests, deliberately left open).
func listenAt(node *isle.Node, command, path string) (*Server, error) {
	// A socket left by a killed process of the same pid is stale: the
	// directory is ours alone, so nobody else can have put it there.
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
		_ = os.Remove(path)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{node: node, ln: ln, ctx: ctx, cancel: cancel, conns: map[net.Conn]struct{}{},
		info: NodeInfo{PID: os.Getpid(), Command: command, Started: time.Now(), Socket: path}}
	s.stopCluster = serveCluster(node)
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Path is the socket's path.
func (s *Server) Path() string { return s.info.Socket }

// Close stops serving, ends every connection and removes the socket.
func (s *Server) Close() error {
	s.stopCluster()
	s.cancel()
	err := s.ln.Close() // removes the socket file
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

func (s *Server) accept() {
	defer s.wg.Done()
	var backoff time.Duration
	for {
		c, err := s.ln.AcceptUnix()
		if err != nil {
			if s.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			// A transient failure, such as EMFILE: wait before trying
			// again rather than spin, longer each time, up to a second.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			select {
			case <-time.After(backoff):
			case <-s.ctx.Done():
				return
			}
			continue
		}
		backoff = 0
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serve(c)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
			c.Close()
		}()
	}
}

// serve answers one connection's requests in order, after checking that
// its peer is the node's own user.
func (s *Server) serve(c *net.UnixConn) {
	enc := json.NewEncoder(c)
	uid, err := peerUID(c)
	if err != nil || uid != os.Getuid() {
		msg := fmt.Sprintf("refused: uid %d is not this node's owner (uid %d)", uid, os.Getuid())
		if err != nil {
			msg = fmt.Sprintf("refused: cannot read the peer's credentials: %v", err)
		}
		_ = enc.Encode(Response{Error: msg})
		return
	}
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 4096), maxRequest)
	var top topState
	for sc.Scan() {
		var req Request
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			_ = enc.Encode(Response{Error: "bad request: " + err.Error()})
			return
		}
		if req.Op == OpLogs {
			s.logs(c, enc, req)
			return
		}
		if err := enc.Encode(s.answer(req, &top)); err != nil {
			return
		}
	}
}

// answer answers every request but logs. A failure in isle while
// answering is the client's error, never the node's end.
func (s *Server) answer(req Request, top *topState) (resp Response) {
	defer func() {
		if r := recover(); r != nil {
			resp = Response{Error: fmt.Sprintf("isle failed to answer %s: %v", req.Op, r)}
		}
	}()
	switch req.Op {
	case OpHello:
		info := s.info
		return Response{Node: &info}
	case OpPS:
		if req.Cluster && s.node.NodeName() != "" {
			return Response{Cluster: clusterPS(s.ctx, s.node)}
		}
		snap := s.node.Snapshot()
		return Response{Snapshot: &snap}
	case OpTop:
		return Response{Top: top.frame(s.node, req)}
	case OpInspect:
		d, err := s.node.Inspect(req.PID)
		if err != nil {
			return Response{Error: err.Error()}
		}
		return Response{Detail: &d}
	case OpKill:
		if err := s.node.Kill(req.PID, "killed by isle kill"); err != nil {
			return Response{Error: err.Error()}
		}
		return Response{Done: true}
	case OpRestart:
		if err := s.node.Restart(req.Service); err != nil {
			return Response{Error: err.Error()}
		}
		return Response{Done: true}
	}
	return Response{Error: fmt.Sprintf("unknown operation %q", req.Op)}
}

// logs sends the kept records that match, then, with Follow, new ones as
// they come until the client goes or the server closes.
func (s *Server) logs(c net.Conn, enc *json.Encoder, req Request) {
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	if req.Follow {
		// The client sends nothing more: its end of file is its leaving.
		go func() {
			var b [256]byte
			for {
				if _, err := c.Read(b[:]); err != nil {
					cancel()
					return
				}
			}
		}()
	}
	var after uint64
	for {
		recs, more := s.node.Logs(after)
		for i := range recs {
			after = recs[i].Seq
			if req.Service != "" && !about(recs[i], req.Service) {
				continue
			}
			if err := enc.Encode(Response{Log: &recs[i]}); err != nil {
				return
			}
		}
		if !req.Follow {
			_ = enc.Encode(Response{Done: true})
			return
		}
		select {
		case <-more:
		case <-ctx.Done():
			return
		}
	}
}

// about reports whether a record concerns the service (or process name)
// called name: the log capability's records carry it as name, the
// supervisors' as service, both without the path of nested supervisors.
func about(r isle.LogRecord, name string) bool {
	short := name[strings.LastIndexByte(name, '/')+1:]
	if short == "" {
		return false // "a/" names no service; it must not match records without one
	}
	for _, key := range []string{"name", "service"} {
		if v := r.Attr(key); v == name || v == short {
			return true
		}
	}
	return false
}
