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
// or if another program holds the store open. Puts through it are bounded
// only by the node's bound on its store (Config.KVMaxBytes); see
// KVCapWithQuota for a grant with a quota of its own.
func KVCap(bucket string, rights api.Rights) Capability {
	return Capability{kind: kv.Kind, rights: rights, spec: kv.Spec{Bucket: bucket}}
}

// KVCapWithQuota is KVCap with a quota of its own: a put through it (or
// through any copy of its handle) that would take the bucket past quota
// bytes fails with ELIMIT, each key counting its bytes, its value's and
// 64. Puts that add nothing, such as a smaller value over a larger, and
// deletes always work. A grant with a smaller quota is a narrower right
// to the same bucket; Config.KVMaxBytes bounds the node's store whatever
// the grants say. The quota is at most 1 PiB.
func KVCapWithQuota(bucket string, rights api.Rights, quota uint64) Capability {
	return Capability{kind: kv.Kind, rights: rights, spec: kv.Spec{Bucket: bucket, Quota: quota}}
}
