// Command capsuser uses capabilities it looks up by name, printing one
// line per step so the test can check what worked: a directory handle
// opened as a path, a clock with only the monotonic right, the log, and a
// name it was not granted.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/isle-run/isle/sdk/go/isle"
)

func main() {
	data, err := isle.Grant("data")
	if err != nil {
		fmt.Println("data: error", err)
		return
	}
	dir := isle.DirPath(data)
	b, err := os.ReadFile(filepath.Join(dir, "in.txt"))
	fmt.Printf("read: %q %v\n", b, err)
	err = os.WriteFile(filepath.Join(dir, "out.txt"), []byte("written through a handle"), 0o644)
	fmt.Println("write:", err == nil)

	clock, _ := isle.Grant("clock")
	_, err = isle.Now(clock, false)
	fmt.Println("monotonic:", err == nil)
	_, err = isle.WallTime(clock)
	fmt.Println("wall:", err)

	log, _ := isle.Grant("log")
	fmt.Println("log:", isle.Log(log, isle.LevelInfo, "hello from capsuser"))

	_, err = isle.Grant("kv")
	fmt.Println("kv:", err)
	fmt.Println("rights:", isle.Inspect(data).Rights)
}
