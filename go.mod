module github.com/isle-run/isle

go 1.26

require github.com/tetratelabs/wazero v1.12.0

require (
	github.com/BurntSushi/toml v1.6.0
	go.etcd.io/bbolt v1.5.0
	golang.org/x/sys v0.45.0
)
