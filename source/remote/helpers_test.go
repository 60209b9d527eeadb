package remote

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Secrets the tests put in URLs, credentials and signatures; TestMain
// fails when any error or Name a test produced holds one.
const (
	testAccessKey    = "AKIDTESTACCESSKEY01"
	testSecretKey    = "tEsTsEcReTkEy/K7MDENG+bPxRfiCYSECRET"
	testSessionToken = "FwoGZXIvYXdzEXAMPLESESSIONTOKEN"
	testPassword     = "hunter2pass"
	testSignature    = "deadbeefcafe0123456789presigned"
)

var secrets = []string{testAccessKey, testSecretKey, testSessionToken, testPassword, testSignature,
	"X-Amz-Signature", "X-Amz-Credential", "X-Amz-Security-Token"}

// produced holds every error text and Name the tests saw.
var produced struct {
	sync.Mutex
	texts []string
}

// seen records what a test got, for TestMain's check, and returns err.
func seen(err error) error {
	if err != nil {
		produced.Lock()
		produced.texts = append(produced.texts, err.Error())
		produced.Unlock()
	}
	return err
}

func seenName(name string) {
	produced.Lock()
	produced.texts = append(produced.texts, name)
	produced.Unlock()
}

func TestMain(m *testing.M) {
	code := m.Run()
	produced.Lock()
	defer produced.Unlock()
	if f := flag.Lookup("test.run"); f != nil && f.Value.String() == "" && len(produced.texts) < 50 {
		fmt.Fprintf(os.Stderr, "only %d errors and names were recorded for the secrets check\n", len(produced.texts))
		code = 1
	}
	for _, text := range produced.texts {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				fmt.Fprintf(os.Stderr, "secret %q in %q\n", s, text)
				code = 1
			}
		}
	}
	os.Exit(code)
}

// object is what an objectServer serves; ServeContent of net/http answers
// Range, If-Match and If-Unmodified-Since.
type object struct {
	data    []byte
	etag    string // "" sends none
	modtime time.Time
}

func newObject(data []byte) object {
	sum := sha256.Sum256(data)
	return object{data: data, etag: `"` + hex.EncodeToString(sum[:8]) + `"`, modtime: time.Unix(1_700_000_000, 0)}
}

// objectServer serves one object, with faults on demand, and records the
// requests it gets.
type objectServer struct {
	*httptest.Server

	mu       sync.Mutex
	obj      object
	requests []*http.Request
	ignore   bool  // answer 200 with the whole object, whatever the Range
	failures []int // statuses to answer, one per request, before serving
	cut      int64 // when > 0, break every response off after cut bytes
	stall    int64 // when > 0, stop sending after stall bytes of the first response, until the client gives up
	check    func(*http.Request) (int, string)
	raw      http.HandlerFunc // when set, answers instead
	conns    atomic.Int64     // connections accepted
}

func newObjectServer(tb testing.TB, data []byte, tls bool) *objectServer {
	s := &objectServer{obj: newObject(data)}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			s.conns.Add(1)
		}
	}
	if tls {
		s.StartTLS()
	} else {
		s.Start()
	}
	tb.Cleanup(s.Close)
	return s
}

// with changes the faults of s, as f does.
func (s *objectServer) with(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f()
}

func (s *objectServer) set(obj object) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.obj = obj
}

func (s *objectServer) got() []*http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*http.Request(nil), s.requests...)
}

func (s *objectServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests = append(s.requests, r.Clone(context.Background()))
	obj, ignore, cut, check, raw := s.obj, s.ignore, s.cut, s.check, s.raw
	stall := s.stall
	s.stall = 0
	var fail int
	if len(s.failures) > 0 {
		fail, s.failures = s.failures[0], s.failures[1:]
	}
	s.mu.Unlock()
	if raw != nil {
		raw(w, r)
		return
	}
	if check != nil {
		if status, body := check(r); status != 0 {
			w.WriteHeader(status)
			io.WriteString(w, body)
			return
		}
	}
	if fail != 0 {
		w.WriteHeader(fail)
		fmt.Fprintf(w, "<Error><Code>Injected</Code><Message>%s</Message></Error>", r.URL.RawQuery)
		return
	}
	if obj.etag != "" {
		w.Header().Set("ETag", obj.etag)
	}
	var out http.ResponseWriter = w
	switch {
	case stall > 0:
		out = &stallingWriter{ResponseWriter: w, left: stall, done: r.Context().Done()}
	case cut > 0:
		out = &cuttingWriter{ResponseWriter: w, left: cut}
	}
	if ignore {
		w.Header().Set("Last-Modified", obj.modtime.UTC().Format(http.TimeFormat))
		w.Header().Set("Content-Length", fmt.Sprint(len(obj.data)))
		out.Write(obj.data)
		return
	}
	http.ServeContent(out, r, "", obj.modtime, bytes.NewReader(obj.data))
}

// cuttingWriter drops the connection once it has written left bytes.
type cuttingWriter struct {
	http.ResponseWriter
	left int64
}

func (c *cuttingWriter) Write(p []byte) (int, error) {
	if int64(len(p)) < c.left {
		c.left -= int64(len(p))
		return c.ResponseWriter.Write(p)
	}
	c.ResponseWriter.Write(p[:c.left])
	c.ResponseWriter.(http.Flusher).Flush()
	panic(http.ErrAbortHandler)
}

// stallingWriter sends left bytes, then nothing until the client goes.
type stallingWriter struct {
	http.ResponseWriter
	left int64
	done <-chan struct{}
}

func (s *stallingWriter) Write(p []byte) (int, error) {
	if int64(len(p)) < s.left {
		s.left -= int64(len(p))
		return s.ResponseWriter.Write(p)
	}
	s.ResponseWriter.Write(p[:s.left])
	s.ResponseWriter.(http.Flusher).Flush()
	<-s.done
	panic(http.ErrAbortHandler)
}

// waits records the waits between attempts, and waits for none.
type waits struct {
	mu sync.Mutex
	d  []time.Duration
}

func (w *waits) sleep(ctx context.Context, d time.Duration) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.d = append(w.d, d)
	return ctx.Err()
}

func (w *waits) all() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Duration(nil), w.d...)
}

// testOptions are options for srv that never wait for real.
func testOptions(srv *objectServer, w *waits) Options {
	return Options{Client: srv.Client(), Window: 64 << 10, Sleep: w.sleep}
}

// pattern is n bytes that differ at every offset of a small window.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7+i/251) ^ seed
	}
	return b
}

func mustOpen(t *testing.T, url string, opts Options) *Source {
	t.Helper()
	src, err := Open(context.Background(), url, opts)
	if err != nil {
		t.Fatal(seen(err))
	}
	seenName(src.Name())
	return src
}

func readAll(t *testing.T, r io.Reader) []byte {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(seen(err))
	}
	return b
}

func isAny(err error, kinds ...error) bool {
	for _, k := range kinds {
		if errors.Is(err, k) {
			return true
		}
	}
	return false
}
