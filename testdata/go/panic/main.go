// Command panic writes to a nil map: an unrecovered runtime panic.
package main

func main() {
	var m map[string]int
	m["boom"] = 1
}
