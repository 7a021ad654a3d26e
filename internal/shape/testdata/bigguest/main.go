// Command bigguest uses much of the standard library (net/http, crypto/tls,
// encoding/json, templates, images, go/format), so that the shape tests see
// a large real Go program.
package main

import (
	"bytes"
	"compress/gzip"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"go/format"
	"html/template"
	"image"
	"image/png"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"
)

type rec struct {
	Name string            `json:"name" xml:"name"`
	Tags map[string]string `json:"tags"`
	When time.Time         `json:"when"`
}

func main() {
	var b bytes.Buffer
	_ = json.NewEncoder(&b).Encode(rec{Name: "x", Tags: map[string]string{"a": "b"}})
	var r rec
	_ = json.Unmarshal(b.Bytes(), &r)
	x, _ := xml.Marshal(r.Name)
	src, _ := format.Source([]byte("package p; func f( ) { }"))
	t := template.Must(template.New("t").Parse("<p>{{.}}</p>"))
	_ = t.Execute(&b, "<x>")
	re := regexp.MustCompile(`a+b*`)
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	_ = png.Encode(&b, img)
	zw := gzip.NewWriter(&b)
	_, _ = zw.Write(x)
	_ = zw.Close()
	n := new(big.Int).Exp(big.NewInt(3), big.NewInt(200), nil)
	pool := x509.NewCertPool()
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	cl := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: time.Second}
	_ = cl
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	_ = srv
	xs := strings.Fields("c b a")
	sort.Strings(xs)
	fmt.Fprintln(os.Stdout, len(src), re.MatchString("aab"), n.BitLen(), xs)
}
