package upstream_test

import (
	"fmt"
	"log"
	"os"

	"github.com/ocitar/ocitar/cache"
	"github.com/ocitar/ocitar/upstream"
)

// ocitar serve --upstream http://127.0.0.1:5001 --upstream docker.io=https://mirror.example.com
// routes what a client asks for, without contacting anything yet.
func ExampleSet_Route() {
	dir, err := os.MkdirTemp("", "upstream")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	c, err := cache.Open(dir, -1)
	if err != nil {
		log.Fatal(err)
	}
	var specs []upstream.Spec
	for _, s := range []string{"http://127.0.0.1:5001", "docker.io=https://mirror.example.com"} {
		spec, err := upstream.ParseSpec(s)
		if err != nil {
			log.Fatal(err)
		}
		specs = append(specs, spec)
	}
	set, err := upstream.NewSet(specs, upstream.Options{Cache: c})
	if err != nil {
		log.Fatal(err)
	}
	for _, ask := range []struct{ ns, name string }{{"", "team/app"}, {"docker.io", "library/alpine"}, {"", "docker.io/library/alpine"}, {"quay.io", "team/app"}} {
		if repo, ok := set.Route(ask.ns, ask.name); ok {
			fmt.Printf("ns=%q %s: %s\n", ask.ns, ask.name, repo.Name())
		} else {
			fmt.Printf("ns=%q %s: no upstream\n", ask.ns, ask.name)
		}
	}
	// Output:
	// ns="" team/app: team/app
	// ns="docker.io" library/alpine: docker.io/library/alpine
	// ns="" docker.io/library/alpine: docker.io/library/alpine
	// ns="quay.io" team/app: no upstream
}
