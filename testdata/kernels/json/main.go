// Command json encodes a nested document with encoding/json and decodes
// it again, N times, and prints a checksum of the encoding.
//
//	json [N [DEPTH]]
//
// The document is a tree of 4-way nodes DEPTH levels deep (default 6:
// 5,461 nodes, about 800 KB of JSON).
package main

import (
	"encoding/json"
	"fmt"
	"hash/crc32"
	"os"
	"reflect"
	"strconv"
)

type Node struct {
	Name     string            `json:"name"`
	ID       int64             `json:"id"`
	Score    float64           `json:"score"`
	Active   bool              `json:"active"`
	Tags     []string          `json:"tags"`
	Attrs    map[string]string `json:"attrs,omitempty"`
	Children []*Node           `json:"children,omitempty"`
}

var seed = uint64(0x9E3779B97F4A7C15)

func next() uint64 {
	seed ^= seed << 13
	seed ^= seed >> 7
	seed ^= seed << 17
	return seed
}

func build(depth int) *Node {
	n := &Node{
		Name:   fmt.Sprintf("node-%d-\"%x\"", depth, next()%100000),
		ID:     int64(next() % 1e9),
		Score:  float64(next()%1e6) / 1024,
		Active: next()%2 == 0,
		Tags:   []string{"alpha", "beta", strconv.Itoa(int(next() % 1000))},
	}
	if next()%3 == 0 {
		n.Attrs = map[string]string{"owner": "isle", "zone": strconv.Itoa(int(next() % 7))}
	}
	if depth > 0 {
		for i := 0; i < 4; i++ {
			n.Children = append(n.Children, build(depth-1))
		}
	}
	return n
}

func main() {
	rounds, depth := 1, 6
	if len(os.Args) > 1 {
		rounds, _ = strconv.Atoi(os.Args[1])
	}
	if len(os.Args) > 2 {
		depth, _ = strconv.Atoi(os.Args[2])
	}
	doc := build(depth)
	var sum uint32
	var size int
	for i := 0; i < rounds; i++ {
		b, err := json.Marshal(doc)
		if err != nil {
			panic(err)
		}
		var back Node
		if err := json.Unmarshal(b, &back); err != nil {
			panic(err)
		}
		if i == 0 && !reflect.DeepEqual(&back, doc) {
			fmt.Println("json MISMATCH")
			os.Exit(1)
		}
		doc = &back
		sum = crc32.Update(sum, crc32.IEEETable, b)
		size = len(b)
	}
	fmt.Printf("json %d %08x\n", size, sum)
}
