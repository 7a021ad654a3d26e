package cluster

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCredentialDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "creds")
	must(t, Init(dir), "Init")
	if err := Init(dir); !errors.Is(err, ErrExists) {
		t.Fatalf("second Init: %v, want ErrExists", err)
	}
	must(t, IssueNode(dir, "n1", "10.0.0.1", "n1.example"), "IssueNode")
	if err := IssueNode(dir, "n1"); !errors.Is(err, ErrExists) {
		t.Fatalf("second IssueNode: %v, want ErrExists", err)
	}
	if err := IssueNode(dir, "bad/name"); !errors.Is(err, ErrBadName) {
		t.Fatalf("IssueNode with a bad name: %v, want ErrBadName", err)
	}
	for _, f := range []string{"ca.key", "n1.key"} {
		st, err := os.Stat(filepath.Join(dir, f))
		must(t, err, "stat %s", f)
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", f, st.Mode().Perm())
		}
	}
	c, err := LoadCredentials(dir, "n1")
	must(t, err, "LoadCredentials")
	leaf, err := parseCert(c.Cert, "n1")
	must(t, err, "parse")
	if leaf.Subject.CommonName != "n1" || !strings.Contains(strings.Join(leaf.DNSNames, ","), "n1.example") || len(leaf.IPAddresses) != 3 {
		t.Fatalf("certificate names: CN %q, DNS %v, IPs %v", leaf.Subject.CommonName, leaf.DNSNames, leaf.IPAddresses)
	}
	if _, err := c.check("n2"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("credentials for n1 used as n2: %v, want ErrBadCredentials", err)
	}

	must(t, os.Chmod(filepath.Join(dir, "n1.key"), 0o640), "chmod")
	_, err = LoadCredentials(dir, "n1")
	if !errors.Is(err, ErrKeyPermissions) || !strings.Contains(err.Error(), "chmod 600") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("loading a group-readable key: %v, want one line saying chmod 600", err)
	}
}

func TestCredentialsFromAnotherCA(t *testing.T) {
	ca, other := newTestCA(t), newTestCA(t)
	c := ca.creds(t, "n")
	c.CA = other.cert
	if _, err := c.check("n"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("certificate from another CA: %v, want ErrBadCredentials", err)
	}
	c = ca.creds(t, "n")
	c.Key = other.key
	if _, err := c.check("n"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("mismatched key: %v, want ErrBadCredentials", err)
	}
}
