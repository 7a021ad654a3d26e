package isle

import (
	"github.com/isle-run/isle/api"
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
	return Capability{kind: kv.Kind, rights: rights, spec: kv.Spec{Bucket: bucket}}
}
