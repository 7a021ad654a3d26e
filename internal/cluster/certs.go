package cluster

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// routeSAN is a DNS name every node certificate carries and every route
// dial verifies, instead of the dialled host: route addresses are gossiped
// between servers and may be any IP, while membership of the cluster is
// what the CA vouches for. ".invalid" is reserved, so it names no real host.
const routeSAN = "route.isle.invalid"

const (
	caValidity   = 10 * 365 * 24 * time.Hour
	nodeValidity = 2 * 365 * 24 * time.Hour
)

// Credentials is the PEM material a node needs for mutual TLS on routes:
// the cluster CA's certificate and this node's certificate and key.
type Credentials struct {
	CA, Cert, Key []byte
}

// NewCA generates a cluster CA: a self-signed ECDSA P-256 certificate
// valid ten years, and its key, both PEM. Keep the key off the nodes if
// you can; only IssueNode needs it.
func NewCA() (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("cluster CA key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "isle cluster CA " + serial().Text(36)},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("cluster CA certificate: %w", err)
	}
	return encodeCert(der), encodeKey(key), nil
}

// Issue makes a certificate for node signed by the CA (caCert, caKey PEM):
// ECDSA P-256, valid two years, for both server and client auth, with the
// SANs node, localhost, 127.0.0.1, ::1, each of hosts (IPs or DNS names),
// and routeSAN.
func Issue(caCert, caKey []byte, node string, hosts ...string) (certPEM, keyPEM []byte, err error) {
	if err := checkName("node name", node); err != nil {
		return nil, nil, err
	}
	ca, caPriv, err := parseCA(caCert, caKey)
	if err != nil {
		return nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("node key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: node},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(nodeValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:     []string{node, "localhost", routeSAN},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caPriv)
	if err != nil {
		return nil, nil, fmt.Errorf("node certificate for %s: %w", node, err)
	}
	return encodeCert(der), encodeKey(key), nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return n
}

func encodeCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func encodeKey(key *ecdsa.PrivateKey) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		panic(err) // cannot fail for a P-256 key
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func parseCert(p []byte, what string) (*x509.Certificate, error) {
	b, _ := pem.Decode(p)
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%w: %s is not a PEM certificate", ErrBadCredentials, what)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadCredentials, what, err)
	}
	return c, nil
}

func parseCA(certPEM, keyPEM []byte) (*x509.Certificate, any, error) {
	ca, err := parseCert(certPEM, "CA certificate")
	if err != nil {
		return nil, nil, err
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: CA certificate and key do not match: %v", ErrBadCredentials, err)
	}
	return ca, pair.PrivateKey, nil
}

// check verifies that the material parses, the key matches the
// certificate, and the certificate was issued by the CA to node. It
// returns the TLS configuration routes use: TLS 1.3, client certificates
// required and verified against the CA both ways.
func (c *Credentials) check(node string) (*tls.Config, error) {
	pair, err := tls.X509KeyPair(c.Cert, c.Key)
	if err != nil {
		return nil, fmt.Errorf("%w: node certificate and key do not match: %v", ErrBadCredentials, err)
	}
	leaf, err := parseCert(c.Cert, "node certificate")
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(c.CA) {
		return nil, fmt.Errorf("%w: CA certificate is not PEM", ErrBadCredentials)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: routeSAN,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth}}); err != nil {
		return nil, fmt.Errorf("%w: node certificate not valid for this cluster CA (%v): issue one with IssueNode", ErrBadCredentials, err)
	}
	if leaf.Subject.CommonName != node {
		return nil, fmt.Errorf("%w: certificate is for node %q, not %q: issue one with IssueNode(dir, %q)", ErrBadCredentials, leaf.Subject.CommonName, node, node)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{pair},
		RootCAs:      pool,
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS13,
		ServerName:   routeSAN,
	}, nil
}

// Init creates dir (0700) and writes a new cluster CA into it: ca.crt
// and ca.key (0600). It refuses to overwrite an existing ca.key.
func Init(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("cluster credentials directory: %w", err)
	}
	cert, key, err := NewCA()
	if err != nil {
		return err
	}
	if err := writeKey(filepath.Join(dir, "ca.key"), key); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "ca.crt"), cert, 0o644)
}

// IssueNode writes DIR/NODE.crt and DIR/NODE.key (0600), signed by the CA
// in dir (see Init), for the given extra hosts. It refuses to overwrite.
func IssueNode(dir, node string, hosts ...string) error {
	if err := checkName("node name", node); err != nil {
		return err
	}
	caCert, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err != nil {
		return fmt.Errorf("cluster CA: %w (create it with Init)", err)
	}
	caKey, err := readKey(filepath.Join(dir, "ca.key"))
	if err != nil {
		return err
	}
	cert, key, err := Issue(caCert, caKey, node, hosts...)
	if err != nil {
		return err
	}
	if err := writeKey(filepath.Join(dir, node+".key"), key); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, node+".crt"), cert, 0o644)
}

// LoadCredentials reads DIR/ca.crt, DIR/NODE.crt and DIR/NODE.key. It
// refuses a key file readable by group or others.
func LoadCredentials(dir, node string) (*Credentials, error) {
	if err := checkName("node name", node); err != nil {
		return nil, err
	}
	var c Credentials
	var err error
	if c.CA, err = os.ReadFile(filepath.Join(dir, "ca.crt")); err != nil {
		return nil, fmt.Errorf("cluster CA certificate: %w", err)
	}
	if c.Cert, err = os.ReadFile(filepath.Join(dir, node+".crt")); err != nil {
		return nil, fmt.Errorf("node certificate: %w (create it with IssueNode)", err)
	}
	if c.Key, err = readKey(filepath.Join(dir, node+".key")); err != nil {
		return nil, err
	}
	if _, err := c.check(node); err != nil {
		return nil, err
	}
	return &c, nil
}

// writeKey creates path 0600, failing if it exists.
func writeKey(path string, pemKey []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%w: %s: remove it first to replace it", ErrExists, path)
	}
	if err != nil {
		return err
	}
	if _, err := f.Write(pemKey); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// readKey reads a private key file, refusing one others can read.
func readKey(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s is readable by group or others: run chmod 600 %s", ErrKeyPermissions, path, path)
	}
	return os.ReadFile(path)
}
