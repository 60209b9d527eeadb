package registry_test

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/ocitar/ocitar/archive"
	"github.com/ocitar/ocitar/registry"
)

// Serve an archive in an embedder's own server: the image named
// example.com/ocitar/multi:1 in the tar is pulled as that repository, or as
// ocitar/multi by a client that uses the server as a mirror of example.com.
func Example() {
	r, err := archive.Open("../testdata/sample-multi.oci.tar", archive.Options{})
	if err != nil {
		log.Fatal(err)
	}
	h, err := registry.New([]registry.Archive{{Reader: r, Repo: "sample"}}, registry.Options{Log: func(line string) { log.Print(line) }})
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close()
	srv := httptest.NewServer(h) // or http.Handle("/v2/", h)
	defer srv.Close()

	for _, path := range []string{"/v2/_catalog", "/v2/ocitar/multi/tags/list?ns=example.com"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(string(body))
	}
	resp, err := http.Head(srv.URL + "/v2/example.com/ocitar/multi/manifests/1")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.Header.Get("Content-Type"), resp.Header.Get("Docker-Content-Digest"))
	// Output:
	// {"repositories":["example.com/ocitar/multi","ocitar/multi"]}
	// {"name":"ocitar/multi","tags":["1"]}
	// application/vnd.oci.image.index.v1+json sha256:556360957187cae737f0acc140bfeecd329e632bb8679c5cd0f71dd6ed0eb094
}
