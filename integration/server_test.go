package integration

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// server is a program a test runs in the background; it is killed, by its
// PID, when the test ends, passed or not.
type server struct {
	p      peer
	cmd    *exec.Cmd
	log    string // its standard output and error
	exited chan struct{}
}

// startServer starts p with args, env added to its environment, logging into dir.
func startServer(t *testing.T, dir string, env []string, p peer, args ...string) *server {
	t.Helper()
	s := &server{p: p, log: filepath.Join(dir, "server.log"), exited: make(chan struct{})}
	logFile, err := os.Create(s.log)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	s.cmd = command(t, env, p, args...)
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("%s failed to start: %v\n  command: %s", p, err, commandLine(s.cmd))
	}
	go func() {
		s.cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		s.cmd.Process.Kill()
		<-s.exited
	})
	return s
}

// waitHTTP polls url until it answers 200: 100 attempts 50 ms apart.
func (s *server) waitHTTP(t *testing.T, url string) {
	t.Helper()
	client := &http.Client{Timeout: time.Second}
	var last string
	for range 100 {
		select {
		case <-s.exited:
			t.Fatalf("%s exited before answering %s: %v\n  command: %s\n  %s output: %s",
				s.p, url, s.cmd.ProcessState, commandLine(s.cmd), s.p, readFile(t, s.log))
		default:
		}
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not answer 200 on %s within 5 s (last: %s)\n  command: %s\n  %s output: %s",
		s.p, url, last, commandLine(s.cmd), s.p, readFile(t, s.log))
}

// freeAddr is 127.0.0.1 with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
