// Command cat copies standard input to standard output, upper-cased, so a
// test can tell the guest's copy from the input.
package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

func main() {
	sc := bufio.NewScanner(os.Stdin)
	n := 0
	for sc.Scan() {
		fmt.Println(strings.ToUpper(sc.Text()))
		n++
	}
	fmt.Fprintf(os.Stderr, "%d lines\n", n)
}
