// Command genmalicious writes the malicious corpus (see package malicious):
//
//	go run ./internal/malicious/genmalicious DIR
//
// writes every case that is not Large into DIR, byte-identical on every run.
package main

import (
	"fmt"
	"os"

	"github.com/ocitar/ocitar/internal/malicious"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: genmalicious DIR")
		os.Exit(2)
	}
	if err := malicious.Generate(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "genmalicious:", err)
		os.Exit(1)
	}
}
