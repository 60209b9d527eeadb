package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ocitar/ocitar/internal/termsafe"
	"github.com/ocitar/ocitar/source/remote"
	"github.com/sirupsen/logrus"
	"go.podman.io/storage/pkg/reexec"
)

func main() {
	// containers-storage applies layers in a re-executed child of this binary.
	if reexec.Init() {
		return
	}
	limitMemory()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one ocitar command line and returns the exit status. Errors are
// printed to stderr as a single line.
func run(args []string, stdout, stderr io.Writer) int {
	cmd := newRootCommand()
	cmd.SetArgs(args)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	logrus.SetOutput(escapedLog{stderr})
	if err := cmd.Execute(); err != nil {
		if errors.Is(err, remote.ErrNoRange) {
			err = fmt.Errorf("%w (--download-if-no-range downloads it once into --cache-dir instead)", err)
		}
		for _, line := range errorLines(err) {
			printLine(stderr, "", line)
		}
		return 1
	}
	return 0
}

// printLine prints err to stderr as one line, after "ocitar: " and label,
// escaped: error texts embed names that archives and layers chose.
func printLine(stderr io.Writer, label string, err error) {
	fmt.Fprintf(stderr, "ocitar: %s%s\n", label, termsafe.String(strings.ReplaceAll(err.Error(), "\n", " ")))
}

// escapedLog is where containers/image's log (logrus) and ocitar serve's log
// go: stderr, each entry escaped, as its messages may embed names from archives.
type escapedLog struct{ stderr io.Writer }

func (l escapedLog) Write(entry []byte) (int, error) {
	line := termsafe.String(strings.TrimSuffix(string(entry), "\n"))
	if _, err := io.WriteString(l.stderr, line+"\n"); err != nil {
		return 0, err
	}
	return len(entry), nil
}

// errorLines are the lines an error prints: one per problem of a verify, else one.
func errorLines(err error) []error {
	var p problems
	if errors.As(err, &p) {
		return p
	}
	return []error{err}
}
