package cache

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
)

// The test binary run again as a process that shares a cache: childEnv names
// what it does, childDir the cache's directory.
const (
	childEnv = "OCITAR_CACHE_TEST_CHILD"
	childDir = "OCITAR_CACHE_TEST_DIR"
)

// The key the children and the tests lock, and how many times a counting
// child and goroutine increment the counter.
const (
	lockKey    = "k"
	increments = 100
)

func TestMain(m *testing.M) {
	if what := os.Getenv(childEnv); what != "" {
		if err := child(what, os.Getenv(childDir)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// child is the process that shares the cache in dir: "hold" takes the key,
// says "locked" on stdout, and at a line on stdin writes the file released and
// lets go; "count" increments the counter under the key.
func child(what, dir string) error {
	c, err := Open(dir, -1)
	if err != nil {
		return err
	}
	switch what {
	case "hold":
		return hold(c)
	case "count":
		return count(c)
	}
	return fmt.Errorf("no child %q", what)
}

func hold(c *Cache) error {
	unlock, err := c.Lock(lockKey)
	if err != nil {
		return err
	}
	fmt.Println("locked")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(c.Dir(), "released"), nil, 0o644); err != nil {
		return err
	}
	return unlock()
}

// count increments the number in the file counter, increments times, each
// under the key: reading it and writing it again loses increments unless the
// key keeps the others out.
func count(c *Cache) error {
	path := filepath.Join(c.Dir(), "counter")
	for range increments {
		unlock, err := c.Lock(lockKey)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			data, err = []byte("0"), nil
		}
		n, cerr := strconv.Atoi(string(data))
		if err == nil {
			err = cerr
		}
		if err == nil {
			err = os.WriteFile(path, []byte(strconv.Itoa(n+1)), 0o644)
		}
		if uerr := unlock(); err == nil {
			err = uerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// startChild starts the child what on the cache c, with pipes to its stdin
// and from its stdout, and stops it at the end of the test.
func startChild(t *testing.T, c *Cache, what string) (*exec.Cmd, io.WriteCloser, io.Reader) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), childEnv+"="+what, childDir+"="+c.Dir())
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd, stdin, stdout
}

// TestCacheLock: while another process holds a key, Lock waits until it lets
// go or exits.
func TestCacheLock(t *testing.T) {
	tests := []struct {
		name     string
		release  func(cmd *exec.Cmd, stdin io.WriteCloser) error
		released bool // the child let go, rather than exited holding the key
	}{
		{"the holder lets go", func(cmd *exec.Cmd, stdin io.WriteCloser) error {
			if _, err := io.WriteString(stdin, "go\n"); err != nil {
				return err
			}
			return cmd.Wait()
		}, true},
		{"the holder is killed", func(cmd *exec.Cmd, stdin io.WriteCloser) error {
			if err := cmd.Process.Kill(); err != nil {
				return err
			}
			if err := cmd.Wait(); err == nil {
				return errors.New("the killed child exited 0")
			}
			return nil
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCache(t, -1)
			cmd, toChild, fromChild := startChild(t, c, "hold")
			if line, err := bufio.NewReader(fromChild).ReadString('\n'); err != nil || line != "locked\n" {
				t.Fatalf("the child said %q, %v; want locked", line, err)
			}
			locked := make(chan error, 1)
			go func() {
				unlock, err := c.Lock(lockKey)
				if err != nil {
					locked <- err
					return
				}
				_, err = os.Stat(filepath.Join(c.Dir(), "released"))
				if uerr := unlock(); uerr != nil {
					err = uerr
				}
				locked <- err
			}()
			if err := tt.release(cmd, toChild); err != nil {
				t.Fatal(err)
			}
			err := <-locked
			if tt.released && err != nil {
				t.Errorf("Lock returned before the child let go: %v", err)
			}
			if !tt.released && !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Lock after the child died: %v, want it to find no released file", err)
			}
		})
	}
}

// TestCacheLockExcludes: a key keeps goroutines and another process out of
// one another's way.
func TestCacheLockExcludes(t *testing.T) {
	c := newCache(t, -1)
	const goroutines = 3
	cmd, _, _ := startChild(t, c, "count")
	errs := make([]error, goroutines)
	var wg sync.WaitGroup
	for i := range goroutines {
		wg.Go(func() { errs[i] = count(c) })
	}
	wg.Wait()
	if err := cmd.Wait(); err != nil {
		t.Errorf("the child: %v", err)
	}
	for i, err := range errs {
		if err != nil {
			t.Errorf("goroutine %d: %v", i, err)
		}
	}
	data, err := os.ReadFile(filepath.Join(c.Dir(), "counter"))
	if want := strconv.Itoa((goroutines + 1) * increments); err != nil || string(data) != want {
		t.Errorf("the counter is %q, %v; want %s", data, err, want)
	}
}
