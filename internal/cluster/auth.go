package cluster

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Why a heartbeat, a batch or a request was refused. Each is logged at
// most once a minute per sender and counted by Node.Refused.
var (
	errUnsigned  = errors.New("not signed")
	errBadCert   = errors.New("certificate not valid for this cluster")
	errCertName  = errors.New("certificate is for another node")
	errBadSig    = errors.New("bad signature")
	errStale     = errors.New("replayed or stale heartbeat")
	errMalformed = errors.New("malformed")
	errReplayed  = errors.New("replayed")
	errForged    = errors.New("does not open with the sender's session key")
)

// identity is this node's credentials, to prove what it sends and to
// check what other members send; a Node without Creds has none.
type identity struct {
	cluster string
	key     *ecdsa.PrivateKey
	dh      *ecdh.PrivateKey // key, for ECDH
	cert    []byte           // this node's certificate, DER
	roots   *x509.CertPool

	mu    sync.Mutex
	certs map[string]*memberCert // verified certificates, by DER
}

// memberCert is a member's certificate, verified against the cluster CA.
type memberCert struct {
	name     string
	pub      *ecdsa.PublicKey
	notAfter time.Time

	once   sync.Once
	secret []byte // static ECDH secret between this node and the member
	err    error
}

// maxCerts bounds the verified certificates kept: one per member, with
// room for restarts with new certificates.
const maxCerts = 1024

func newIdentity(cluster, name string, c *Credentials) (*identity, error) {
	if _, err := c.check(name); err != nil {
		return nil, err
	}
	pair, err := tls.X509KeyPair(c.Cert, c.Key)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadCredentials, err)
	}
	key, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: node key is not ECDSA: issue one with IssueNode", ErrBadCredentials)
	}
	dh, err := key.ECDH()
	if err != nil {
		return nil, fmt.Errorf("%w: node key: %v", ErrBadCredentials, err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(c.CA) // check parsed it
	return &identity{cluster: cluster, key: key, dh: dh, cert: pair.Certificate[0], roots: roots,
		certs: map[string]*memberCert{}}, nil
}

// verify returns the member certificate der, if the cluster CA issued it
// to name and it is valid now.
func (id *identity) verify(der []byte, name string, now time.Time) (*memberCert, error) {
	id.mu.Lock()
	mc := id.certs[string(der)]
	id.mu.Unlock()
	if mc == nil {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errBadCert, err)
		}
		if _, err := c.Verify(x509.VerifyOptions{Roots: id.roots, CurrentTime: now,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth}}); err != nil {
			return nil, fmt.Errorf("%w: %v", errBadCert, err)
		}
		pub, ok := c.PublicKey.(*ecdsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("%w: its key is not ECDSA", errBadCert)
		}
		mc = &memberCert{name: c.Subject.CommonName, pub: pub, notAfter: c.NotAfter}
		id.mu.Lock()
		if len(id.certs) >= maxCerts {
			clear(id.certs)
		}
		id.certs[string(der)] = mc
		id.mu.Unlock()
	}
	if now.After(mc.notAfter) {
		return nil, fmt.Errorf("%w: expired", errBadCert)
	}
	if mc.name != name {
		return nil, fmt.Errorf("%w: %q", errCertName, mc.name)
	}
	return mc, nil
}

// sharedSecret is the static ECDH secret between this node and mc's
// holder, computed once per certificate.
func (id *identity) sharedSecret(mc *memberCert) ([]byte, error) {
	mc.once.Do(func() {
		pub, err := mc.pub.ECDH()
		if err == nil {
			mc.secret, err = id.dh.ECDH(pub)
		}
		mc.err = err
	})
	return mc.secret, mc.err
}

// A heartbeat or leave on the wire, with credentials:
//
//	version (1) | uvarint len | certificate DER | uvarint len | body JSON | ECDSA signature (ASN.1)
//
// The signature covers beatDomain, the cluster's name and the body, so a
// beat of one cluster means nothing in another under the same CA.
// Without credentials the certificate and signature are empty.
const (
	beatVersion = 1
	beatDomain  = "isle beat v1\x00"
)

func (id *identity) beatDigest(body []byte) []byte {
	h := sha256.New()
	h.Write([]byte(beatDomain))
	h.Write([]byte(id.cluster))
	h.Write([]byte{0})
	h.Write(body)
	return h.Sum(nil)
}

// encodeBeat returns b on the wire, signed if id is not nil.
func encodeBeat(id *identity, b *beat) ([]byte, error) {
	body, err := json.Marshal(b)
	if err != nil {
		return nil, err
	}
	var cert, sig []byte
	if id != nil {
		cert = id.cert
		if sig, err = ecdsa.SignASN1(rand.Reader, id.key, id.beatDigest(body)); err != nil {
			return nil, err
		}
	}
	return joinBeat(cert, body, sig), nil
}

func joinBeat(cert, body, sig []byte) []byte {
	out := make([]byte, 0, 1+2*binary.MaxVarintLen16+len(cert)+len(body)+len(sig))
	out = append(out, beatVersion)
	out = append(binary.AppendUvarint(out, uint64(len(cert))), cert...)
	out = append(binary.AppendUvarint(out, uint64(len(body))), body...)
	return append(out, sig...)
}

// decodeBeat parses a beat and, if id is not nil, checks that the
// certificate is the cluster's for the beat's sender and signed it. It
// returns the beat whenever its body parses, for the log.
func decodeBeat(id *identity, data []byte, now time.Time) (*beat, *memberCert, error) {
	cert, body, sig, ok := splitBeat(data)
	if !ok {
		return nil, nil, errMalformed
	}
	var b beat
	if err := json.Unmarshal(body, &b); err != nil || !validName(b.Name) {
		return nil, nil, errMalformed
	}
	if id == nil {
		return &b, nil, nil
	}
	if len(cert) == 0 || len(sig) == 0 {
		return &b, nil, errUnsigned
	}
	mc, err := id.verify(cert, b.Name, now)
	if err != nil {
		return &b, nil, err
	}
	if !ecdsa.VerifyASN1(mc.pub, id.beatDigest(body), sig) {
		return &b, nil, errBadSig
	}
	return &b, mc, nil
}

func splitBeat(data []byte) (cert, body, sig []byte, ok bool) {
	if len(data) == 0 || data[0] != beatVersion {
		return nil, nil, nil, false
	}
	rest := data[1:]
	field := func() []byte {
		n, k := binary.Uvarint(rest)
		if k <= 0 || n > uint64(len(rest)-k) {
			ok = false
			return nil
		}
		f := rest[k : k+int(n)]
		rest = rest[k+int(n):]
		return f
	}
	ok = true
	cert = field()
	body = field()
	return cert, body, rest, ok
}

// incarnationSkew is how far behind the last beat accepted from a name a
// new incarnation's first beat may be: counters start from the sender's
// wall clock, which may step back a little between two runs.
const incarnationSkew = uint64(time.Minute)

// seenBeat is the newest beat accepted from a name, and when.
type seenBeat struct {
	inc, ctr uint64
	at       time.Time
}

// beatGuard drops replayed beats. Within an incarnation a beat's counter
// must exceed the last accepted. Another incarnation's must exceed it
// too, unless the incarnation last heard has been silent for a while (a
// restart whose clock stepped back): then it may trail by at most
// incarnationSkew. While an incarnation still beats, a lower counter of
// another can only be a replay of an earlier one, which would bury the
// live one on a node that never saw the earlier, or let the live one's
// old beats pass again.
type beatGuard map[string]seenBeat

// fresh reports whether a beat from name is newer than every one taken,
// quiet being how long an incarnation must be silent to be superseded by
// one whose counter trails.
func (g beatGuard) fresh(name string, inc, ctr uint64, now time.Time, quiet time.Duration) bool {
	s, ok := g[name]
	switch {
	case !ok:
		return true
	case ctr > s.ctr:
		return true
	case inc == s.inc:
		return false
	default:
		return now.Sub(s.at) > quiet && ctr > s.ctr-min(s.ctr, incarnationSkew)
	}
}

// refusals counts what was refused for not being authentic, and logs it
// at most once a minute per kind and sender, so a flood does not flood
// the log.
type refusals struct {
	log   *slog.Logger
	count atomic.Uint64

	mu   sync.Mutex
	last map[string]time.Time
}

// maxRefusalKeys bounds the senders remembered for the log's pacing.
const maxRefusalKeys = 1024

func (r *refusals) init(log *slog.Logger) {
	r.log, r.last = log, map[string]time.Time{}
}

// refuse records that what (a heartbeat, a batch...) claiming to come
// from the member called from was refused, and why.
func (n *Node) refuse(what, from string, why error) {
	r := &n.refused
	r.count.Add(1)
	if n.cfg.refuseHook != nil {
		n.cfg.refuseHook(what, from, why)
	}
	key, now := what+"\x00"+from, time.Now()
	r.mu.Lock()
	t, seen := r.last[key]
	logIt := !seen || now.Sub(t) >= logRepeatEvery
	if logIt {
		if len(r.last) >= maxRefusalKeys {
			clear(r.last)
		}
		r.last[key] = now
	}
	r.mu.Unlock()
	if logIt {
		r.log.Warn("cluster: refused a "+what+" that claims to come from a member", "from", from, "reason", why.Error())
	}
}

// Refused returns how many heartbeats, batches and requests this node
// refused because they did not prove to come from the member they name
// (the log says which, once a minute per sender).
func (n *Node) Refused() uint64 { return n.refused.count.Load() }
