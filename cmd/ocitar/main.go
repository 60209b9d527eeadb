package main

import (
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
		fmt.Fprintf(stderr, "ocitar: %s\n", strings.ReplaceAll(err.Error(), "\n", " "))
		return 1
	}
	return 0
}
