package integration

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// serveReadyLine starts the one line ocitar serve prints once it listens.
const serveReadyLine = "ocitar serve: serving on http://"

// serveStopWait bounds the wait for ocitar serve to exit after SIGTERM.
const serveStopWait = 10 * time.Second

// serveServer is an `ocitar serve` started by a test.
type serveServer struct {
	host   string // 127.0.0.1:PORT, as it printed
	killed bool   // by kill: stop has no exit status to check
	*server
}

// serveStart starts ocitar serve on 127.0.0.1:0 with args, its log in dir,
// and waits for the line that names its address and for /v2/ to answer 200.
// When t ends it gets SIGTERM and must exit 0; it is killed by its PID if not.
// A failed test logs the server's output.
func serveStart(t *testing.T, dir string, args ...string) *serveServer {
	t.Helper()
	return serveStartEnv(t, dir, nil, args...)
}

// serveStartEnv is serveStart with env (KEY=VALUE) added to ocitar's environment.
func serveStartEnv(t *testing.T, dir string, env []string, args ...string) *serveServer {
	t.Helper()
	s := &serveServer{server: startServer(t, dir, env, ocitar, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)}
	t.Cleanup(func() { s.stop(t) })
	s.host = s.waitAddress(t)
	s.waitHTTP(t, "http://"+s.host+"/v2/")
	return s
}

// waitAddress polls the log for the ready line, 200 attempts 50 ms apart, and
// returns the HOST:PORT it names.
func (s *serveServer) waitAddress(t *testing.T) string {
	t.Helper()
	for range 200 {
		log, err := os.ReadFile(s.log)
		if err != nil {
			t.Fatal(err)
		}
		if i := bytes.Index(log, []byte(serveReadyLine)); i >= 0 {
			if line, _, ok := bytes.Cut(log[i+len(serveReadyLine):], []byte("\n")); ok {
				return string(line)
			}
		}
		select {
		case <-s.exited:
			t.Fatalf("ocitar serve exited before it was ready: %v\n  command: %s\n  output: %s", s.cmd.ProcessState, commandLine(s.cmd), log)
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("ocitar serve printed no %q line within 10 s\n  command: %s\n  output: %s", serveReadyLine, commandLine(s.cmd), readFile(t, s.log))
	return ""
}

// stop sends SIGTERM and checks that ocitar serve exits 0 in time; on a
// failed test it logs the server's output.
func (s *serveServer) stop(t *testing.T) {
	if t.Failed() {
		t.Logf("ocitar serve output:\n%s", strings.TrimSpace(string(readFile(t, s.log))))
	}
	if s.killed {
		return
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("stopping ocitar serve: %v", err)
	}
	select {
	case <-s.exited:
		if code := s.cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("ocitar serve exited with %v after SIGTERM, want status 0", s.cmd.ProcessState)
		}
	case <-time.After(serveStopWait):
		t.Errorf("ocitar serve did not exit within %v of SIGTERM", serveStopWait)
	}
}

// kill ends ocitar serve by SIGKILL, as a crash would, and waits until it is gone.
func (s *serveServer) kill(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatalf("killing ocitar serve: %v", err)
	}
	<-s.exited
	s.killed = true
}
