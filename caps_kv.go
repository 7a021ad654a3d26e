package isle

import (
	"fmt"
	"path/filepath"

	"github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/kernel"
	"github.com/isle-run/isle/internal/services/kv"
)

// KVCap grants one bucket of the node's key-value store, with the given
// key-value rights (api.RightGet, RightPut, RightRemove, RightList). The
// store is one file, kv.db, under Config.DataDir, opened when the first
// such capability is granted and closed with the node; the bucket is
// created if it does not exist. Buckets are separate namespaces: a process
// granted one cannot reach another. A put that returned success is on
// stable storage, so it survives a crash of the node.
//
// The name is 1 to 255 bytes. Granting fails if the node has no DataDir,
// or if another program holds the store open.
func KVCap(bucket string, rights api.Rights) Capability {
	return Capability{kind: kernel.KindKV, rights: rights, open: func(n *Node) (any, func(), error) {
		if n.dataDir == "" {
			return nil, nil, fmt.Errorf("key-value bucket %q: the node has no data directory (set isle.Config.DataDir)", bucket)
		}
		s, err := n.service("kv", func() (any, error) { return kv.Open(filepath.Join(n.dataDir, "kv.db")) })
		if err != nil {
			return nil, nil, err
		}
		b, err := s.(*kv.Store).Bucket(bucket)
		if err != nil {
			return nil, nil, err
		}
		return b, nil, nil
	}}
}
