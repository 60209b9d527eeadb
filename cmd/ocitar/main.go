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
			printLine(stderr, "", line)
		}
		return 1
	}
	return 0
}

// printLine prints err to stderr as one line, after "ocitar: " and label.
func printLine(stderr io.Writer, label string, err error) {
	fmt.Fprintf(stderr, "ocitar: %s%s\n", label, strings.ReplaceAll(err.Error(), "\n", " "))
}

// errorLines are the lines an error prints: one per problem of a verify, else one.
func errorLines(err error) []error {
	var p problems
	if errors.As(err, &p) {
		return p
	}
	return []error{err}
}
