// Command hello prints a greeting: the Go command the benchmark spawns.
package main

import "fmt"

func main() { fmt.Println("hello, world") }
