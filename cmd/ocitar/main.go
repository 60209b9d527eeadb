package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"go.podman.io/storage/pkg/reexec"
)

func main() {
	// containers-storage applies layers in a re-executed child of this binary.
	if reexec.Init() {
		return
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one ocitar command line and returns the exit status. Errors are
// printed to stderr as a single line.
func run(args []string, stdout, stderr io.Writer) int {
	cmd := newRootCommand()
	cmd.SetArgs(args)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	if err := cmd.Execute(); err != nil {
		for _, line := range errorLines(err) {
			fmt.Fprintf(stderr, "ocitar: %s\n", strings.ReplaceAll(line.Error(), "\n", " "))
		}
		return 1
	}
	return 0
}

// errorLines are the lines an error prints: one per problem of a verify, else one.
func errorLines(err error) []error {
	var p problems
	if errors.As(err, &p) {
		return p
	}
	return []error{err}
}
