// Command httpclient is an HTTP egress client written with net/http over
// islehttp. Usage: httpclient GRANT URL... For each URL it GETs it and
// prints "status=S len=N sum=X type=T" (X the byte sum of the body), then
// POSTs "ping" to the first URL and prints the body it got back. An error
// prints "denied" when it is isle.ErrDenied, and "error: ..." otherwise.
package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/isle-run/isle/sdk/go/isle"
	"github.com/isle-run/isle/sdk/go/isle/islehttp"
)

func main() {
	client, err := islehttp.Client(os.Args[1])
	if err != nil {
		fmt.Println("client:", err, errors.Is(err, isle.ErrNotFound))
		return
	}
	for _, u := range os.Args[2:] {
		report(client.Get(u))
	}
	if len(os.Args) > 2 {
		report(client.Post(strings.TrimSuffix(os.Args[2], "/hello")+"/post", "text/plain", strings.NewReader("ping")))
	}
}

func report(resp *http.Response, err error) {
	if errors.Is(err, isle.ErrDenied) {
		fmt.Println("denied")
		return
	}
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		fmt.Println("read:", err)
		return
	}
	var sum uint32
	for _, c := range b {
		sum += uint32(c)
	}
	fmt.Printf("status=%d len=%d sum=%d type=%s\n", resp.StatusCode, len(b), sum, resp.Header.Get("Content-Type"))
	if len(b) <= 200 {
		fmt.Printf("body=%s\n", b)
	}
}
