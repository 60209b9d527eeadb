package remote

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestOpen(t *testing.T) {
	data := pattern(300<<10, 1)
	tests := []struct {
		name       string
		obj        func(object) object
		precond    string
		wantHeader string
	}{
		{"strong ETag", func(o object) object { return o }, "If-Match", ""},
		{"weak ETag", func(o object) object { o.etag = "W/" + o.etag; return o }, "If-Unmodified-Since", ""},
		{"no ETag", func(o object) object { o.etag = ""; return o }, "If-Unmodified-Since", ""},
		{"neither ETag nor Last-Modified", func(o object) object { o.etag, o.modtime = "", time.Time{}; return o }, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newObjectServer(t, data, false)
			obj := tt.obj(newObject(data))
			srv.set(obj)
			src := mustOpen(t, srv.URL+"/dir/a.tar", testOptions(srv, &waits{}))
			if src.Size() != int64(len(data)) {
				t.Errorf("Size = %d, want %d", src.Size(), len(data))
			}
			if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(src.Identity()) {
				t.Errorf("Identity = %q", src.Identity())
			}
			if want := srv.URL + "/dir/a.tar"; src.Name() != want {
				t.Errorf("Name = %q, want %q", src.Name(), want)
			}
			got := make([]byte, 100)
			if _, err := src.ReadAt(got, 200<<10); err != nil {
				t.Fatal(seen(err))
			}
			if !bytes.Equal(got, data[200<<10:200<<10+100]) {
				t.Error("ReadAt gave other bytes")
			}
			reqs := srv.got()
			if len(reqs) != 2 {
				t.Fatalf("%d requests, want 2", len(reqs))
			}
			if r := reqs[0].Header.Get("Range"); r != "bytes=0-65535" {
				t.Errorf("first request asks for %q", r)
			}
			if reqs[0].Header.Get("If-Match")+reqs[0].Header.Get("If-Unmodified-Since") != "" {
				t.Error("the first request has a precondition")
			}
			for _, h := range []string{"If-Match", "If-Unmodified-Since"} {
				want := ""
				if h == tt.precond {
					want = map[string]string{"If-Match": obj.etag, "If-Unmodified-Since": obj.modtime.UTC().Format(http.TimeFormat)}[h]
				}
				if got := reqs[1].Header.Get(h); got != want {
					t.Errorf("second request: %s = %q, want %q", h, got, want)
				}
			}
		})
	}
}

func TestOpenEmpty(t *testing.T) {
	srv := newObjectServer(t, nil, false)
	src := mustOpen(t, srv.URL+"/empty.tar", testOptions(srv, &waits{}))
	if src.Size() != 0 {
		t.Errorf("Size = %d", src.Size())
	}
	if n, err := src.ReadAt(make([]byte, 1), 0); n != 0 || err != io.EOF {
		t.Errorf("ReadAt = %d, %v; want 0, EOF", n, seen(err))
	}
	if reqs := srv.got(); len(reqs) != 1 {
		t.Errorf("%d requests, want 1", len(reqs))
	}
}

func TestSourceIdentity(t *testing.T) {
	data := pattern(10<<10, 2)
	srv := newObjectServer(t, data, false)
	opts := testOptions(srv, &waits{})
	base := mustOpen(t, srv.URL+"/a.tar", opts).Identity()
	tests := []struct {
		name   string
		url    string
		change func()
		same   bool
	}{
		{"reopened", "/a.tar", func() {}, true},
		{"another query string", "/a.tar?X-Amz-Signature=" + testSignature, func() {}, true},
		{"another path", "/b.tar", func() {}, false},
		{"rewritten, same size", "/a.tar", func() { srv.set(newObject(pattern(10<<10, 3))) }, false},
		{"touched", "/a.tar", func() { o := newObject(data); o.etag, o.modtime = "", o.modtime.Add(time.Second); srv.set(o) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.change()
			if got := mustOpen(t, srv.URL+tt.url, opts).Identity(); (got == base) != tt.same {
				t.Errorf("identity %s, first %s: same = %v, want %v", got, base, got == base, tt.same)
			}
			srv.set(newObject(data))
		})
	}
}

// TestSourceReadAt runs its rows in order on one Source, counting the
// requests each makes.
func TestSourceReadAt(t *testing.T) {
	const size = 1 << 20
	data := pattern(size, 4)
	srv := newObjectServer(t, data, false)
	src := mustOpen(t, srv.URL+"/a.tar", testOptions(srv, &waits{}))
	tests := []struct {
		name     string
		off      int64
		n        int
		want     int
		eof      bool
		requests int64
	}{
		{"in the first window", 100, 1000, 1000, false, 0},
		{"just after it", 64 << 10, 100, 100, false, 1},
		{"further in that window", 64<<10 + 60<<10, 4 << 10, 4 << 10, false, 0},
		{"across two windows", 128<<10 - 100, 200, 200, false, 1},
		{"at the end", size - 10, 10, 10, false, 1},
		{"backwards from the end", size - 60<<10, 1000, 1000, false, 0},
		{"past the end", size - 5, 10, 5, true, 0},
		{"at the end exactly", size, 10, 0, true, 0},
		{"a window", 300 << 10, 64 << 10, 64 << 10, false, 1},
		{"much more", 100, 700 << 10, 700 << 10, false, 1},
		{"everything and more", 0, size + 1, size, true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := src.Stats().Requests
			p := make([]byte, tt.n)
			n, err := src.ReadAt(p, tt.off)
			if n != tt.want || (err == io.EOF) != tt.eof || (err != nil && err != io.EOF) {
				t.Fatalf("ReadAt = %d, %v; want %d, EOF %v", n, seen(err), tt.want, tt.eof)
			}
			if !bytes.Equal(p[:n], data[tt.off:tt.off+int64(n)]) {
				t.Error("ReadAt gave other bytes")
			}
			if got := src.Stats().Requests - before; got != tt.requests {
				t.Errorf("%d requests, want %d", got, tt.requests)
			}
		})
	}
	if _, err := src.ReadAt(make([]byte, 1), -1); seen(err) == nil {
		t.Error("ReadAt at -1 succeeded")
	}
	if st := src.Stats(); st.Bytes > 3*size || st.Retries != 0 || st.Resumes != 0 {
		t.Errorf("Stats = %+v", st)
	}
	if n := srv.conns.Load(); n != 1 {
		t.Errorf("%d connections for reads one after another, want 1", n)
	}
}

// TestSourceIndexTar reads the headers of a tar as an index does, and
// counts the requests: one, one per entry larger than the window, and one
// per window's worth of the rest.
func TestSourceIndexTar(t *testing.T) {
	tests := []struct {
		name         string
		small, large int
	}{
		{"200 small entries", 200, 0},
		{"200 small and 3 large", 200, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			archive, names := tarOf(t, tt.small, tt.large)
			srv := newObjectServer(t, archive, false)
			src := mustOpen(t, srv.URL+"/a.tar", Options{Client: srv.Client()})
			tr := tar.NewReader(io.NewSectionReader(src, 0, src.Size()))
			var got []string
			for {
				hdr, err := tr.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(seen(err))
				}
				got = append(got, hdr.Name)
			}
			if strings.Join(got, " ") != strings.Join(names, " ") {
				t.Fatalf("entries %v, want %v", got, names)
			}
			rest := int64(len(archive)) - int64(tt.large)*largeEntry
			limit := 1 + int64(tt.large) + rest/DefaultWindow
			t.Logf("%d entries, %d requests, %d bytes (limit %d)", len(names), src.Stats().Requests, src.Stats().Bytes, limit)
			if n := src.Stats().Requests; n > limit {
				t.Errorf("%d requests to index %d entries, %d of them larger than the window, %d bytes of others; want at most %d", n, len(names), tt.large, rest, limit)
			}
		})
	}
}

// largeEntry is the size of the large entries of tarOf.
const largeEntry = 2 << 20

// tarOf is a tar of small entries of 1 KiB with large ones of largeEntry
// among them, and the names of its entries.
func tarOf(t testing.TB, small, large int) ([]byte, []string) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	var names []string
	for i := range small + large {
		size := 1 << 10
		if large > 0 && i%(small/large+1) == small/large/2 {
			size = largeEntry
		}
		name := "entry" + strings.Repeat("x", i%7) + string(rune('a'+i%26))
		names = append(names, name)
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(size), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(pattern(size, byte(i)))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), names
}

func TestSourceConcurrentReads(t *testing.T) {
	const size = 2 << 20
	data := pattern(size, 5)
	srv := newObjectServer(t, data, false)
	src := mustOpen(t, srv.URL+"/a.tar", testOptions(srv, &waits{}))
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			p := make([]byte, 1000)
			off := int64(100 << 10)
			if _, err := src.ReadAt(p, off); err != nil {
				errs <- err
			} else if !bytes.Equal(p, data[off:off+1000]) {
				errs <- errors.New("other bytes")
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(seen(err))
	}
	if n := src.Stats().Requests; n != 2 {
		t.Errorf("%d requests for 16 reads at once of one window, want 2 (Open and the window)", n)
	}
}

func TestSourceChanged(t *testing.T) {
	data := pattern(200<<10, 6)
	noValidator := func(o object) object { o.etag, o.modtime = "", time.Time{}; return o }
	tests := []struct {
		name    string
		before  func(object) object
		after   object
		noCheck bool // the server ignores preconditions
	}{
		{"ETag, 412", func(o object) object { return o }, newObject(pattern(200<<10, 7)), false},
		{"Last-Modified, 412", func(o object) object { o.etag = ""; return o }, object{data: pattern(200<<10, 7), modtime: time.Unix(1_800_000_000, 0)}, false},
		{"another ETag", func(o object) object { return o }, newObject(pattern(200<<10, 7)), true},
		{"another Last-Modified", func(o object) object { o.etag = ""; return o }, object{data: pattern(200<<10, 7), modtime: time.Unix(1_800_000_000, 0)}, true},
		{"another size", noValidator, noValidator(newObject(pattern(300<<10, 7))), false},
	}
	detections := []struct {
		name   string
		detect func(*Source) error
	}{
		{"ReadAt", func(src *Source) error { _, err := src.ReadAt(make([]byte, 10), 100<<10); return err }},
		{"Check", func(src *Source) error { return src.Check(context.Background()) }},
	}
	for _, tt := range tests {
		for _, d := range detections {
			t.Run(tt.name+", "+d.name, func(t *testing.T) {
				testSourceChanged(t, data, tt.before, tt.after, tt.noCheck, d.detect)
			})
		}
	}
}

// testSourceChanged opens the object before, replaces it by after, and
// checks that detect, and every read after it, fails with ErrChanged.
func testSourceChanged(t *testing.T, data []byte, before func(object) object, after object, noCheck bool, detect func(*Source) error) {
	srv := newObjectServer(t, data, false)
	srv.set(before(newObject(data)))
	if noCheck {
		srv.with(func() { srv.check = ignorePreconditions })
	}
	src := mustOpen(t, srv.URL+"/a.tar", testOptions(srv, &waits{}))
	if err := src.Check(context.Background()); err != nil {
		t.Fatalf("Check before the change: %v", seen(err))
	}
	srv.set(after)
	err := detect(src)
	if !errors.Is(seen(err), ErrChanged) {
		t.Fatalf("after the change: %v, want ErrChanged", err)
	}
	if !strings.HasPrefix(err.Error(), src.Name()+": ") {
		t.Errorf("error %q does not start with the name", err)
	}
	if _, err := src.ReadAt(make([]byte, 10), 0); !errors.Is(seen(err), ErrChanged) {
		t.Errorf("a read of the first window after the change: %v, want ErrChanged", err)
	}
	if _, err := src.OpenRange(context.Background(), 150<<10, 10); !errors.Is(seen(err), ErrChanged) {
		t.Errorf("OpenRange after the change: %v, want ErrChanged", err)
	}
}

// ignorePreconditions is an objectServer check for a server that ignores
// If-Match and If-Unmodified-Since.
func ignorePreconditions(r *http.Request) (int, string) {
	r.Header.Del("If-Match")
	r.Header.Del("If-Unmodified-Since")
	return 0, ""
}

// TestOpenRangeChanged replaces the object while a blob is read: the
// stream fails with ErrChanged and gives no byte of the new object.
func TestOpenRangeChanged(t *testing.T) {
	data := pattern(400<<10, 8)
	srv := newObjectServer(t, data, false)
	src := mustOpen(t, srv.URL+"/a.tar", testOptions(srv, &waits{}))
	srv.with(func() { srv.cut = 50 << 10 })
	r, err := src.OpenRange(context.Background(), 64<<10, 300<<10)
	if err != nil {
		t.Fatal(seen(err))
	}
	defer r.Close()
	other, err := src.OpenRange(context.Background(), 100<<10, 10<<10)
	if err != nil {
		t.Fatal(seen(err))
	}
	defer other.Close()
	got := make([]byte, 40<<10)
	if _, err := io.ReadFull(r, got); err != nil {
		t.Fatal(seen(err))
	}
	srv.set(newObject(pattern(400<<10, 9)))
	rest, err := io.ReadAll(r)
	if !errors.Is(seen(err), ErrChanged) {
		t.Fatalf("reading on after the change: %v, want ErrChanged", err)
	}
	if _, err := other.Read(make([]byte, 1)); !errors.Is(seen(err), ErrChanged) {
		t.Errorf("another stream, whose response is still open: %v, want ErrChanged", err)
	}
	got = append(got, rest...)
	if !bytes.Equal(got, data[64<<10:64<<10+len(got)]) {
		t.Error("the stream gave bytes of the new object")
	}
}

func TestOpenNoRange(t *testing.T) {
	tests := []struct {
		name string
		size int
		ok   bool
	}{
		{"larger than a window", 100 << 10, false},
		{"no larger than a window", 64 << 10, true},
		{"empty", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := pattern(tt.size, 10)
			srv := newObjectServer(t, data, false)
			srv.with(func() { srv.ignore = true })
			src, err := Open(context.Background(), srv.URL+"/a.tar?token="+testSignature, testOptions(srv, &waits{}))
			if !tt.ok {
				if !errors.Is(seen(err), ErrNoRange) {
					t.Fatalf("Open: %v, want ErrNoRange", err)
				}
				if want := srv.URL + "/a.tar: the server ignores Range requests"; !strings.HasPrefix(err.Error(), want) {
					t.Errorf("error %q, want it to start with %q", err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(seen(err))
			}
			if got := readAll(t, io.NewSectionReader(src, 0, src.Size())); !bytes.Equal(got, data) {
				t.Errorf("read %d bytes, not the %d of the object", len(got), len(data))
			}
			r, err := src.OpenRange(context.Background(), 0, src.Size())
			if err != nil {
				t.Fatal(seen(err))
			}
			if got := readAll(t, r); !bytes.Equal(got, data) {
				t.Error("OpenRange gave other bytes")
			}
			if n := src.Stats().Requests; n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
		})
	}
}

func TestOpenStatus(t *testing.T) {
	tests := []struct {
		name     string
		statuses []int
		body     string
		kind     error
		requests int
		text     string
	}{
		{"404", []int{404}, "", ErrNotFound, 1, "not found (HTTP 404 Not Found, Injected)"},
		{"401", []int{401}, "", ErrUnauthorized, 1, "not authorized (HTTP 401 Unauthorized, Injected)"},
		{"403", []int{403}, "<Error><Code>AccessDenied</Code></Error>", ErrForbidden, 1, "access denied (HTTP 403 Forbidden, AccessDenied)"},
		{"403, wrong secret key", []int{403}, "<Error><Code>SignatureDoesNotMatch</Code><StringToSign>" + testAccessKey + "</StringToSign></Error>", ErrUnauthorized, 1, "not authorized (HTTP 403 Forbidden, SignatureDoesNotMatch)"},
		{"500 for good", []int{500, 500, 500, 500, 500, 500, 500}, "", ErrStatus, 6, "unexpected status (HTTP 500 Internal Server Error, Injected)"},
		{"503 twice", []int{503, 503}, "", nil, 3, ""},
		{"429 once", []int{429}, "", nil, 2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newObjectServer(t, pattern(100<<10, 11), false)
			srv.with(func() {
				srv.failures = tt.statuses
				if tt.body != "" {
					srv.check = func(*http.Request) (int, string) { return tt.statuses[0], tt.body }
				}
			})
			w := &waits{}
			_, err := Open(context.Background(), srv.URL+"/a.tar?X-Amz-Signature="+testSignature, testOptions(srv, w))
			if !errors.Is(seen(err), tt.kind) || (tt.kind == nil) != (err == nil) {
				t.Fatalf("Open: %v, want %v", err, tt.kind)
			}
			if n := len(srv.got()); n != tt.requests {
				t.Errorf("%d requests, want %d", n, tt.requests)
			}
			if want := fmtDurations(backoffs(tt.requests - 1)); fmtDurations(w.all()) != want {
				t.Errorf("waited %v, want %v", w.all(), want)
			}
			if err != nil && err.Error() != srv.URL+"/a.tar: "+tt.text {
				t.Errorf("error %q, want %q", err, srv.URL+"/a.tar: "+tt.text)
			}
		})
	}
}

func backoffs(n int) []time.Duration {
	var d []time.Duration
	for i := range n {
		d = append(d, Options{}.withDefaults().backoff(i))
	}
	return d
}

func fmtDurations(d []time.Duration) string {
	var s []string
	for _, x := range d {
		s = append(s, x.String())
	}
	return strings.Join(s, " ")
}

func TestOptionsBackoff(t *testing.T) {
	tests := []struct {
		opts Options
		want string
	}{
		{Options{}, "100ms 200ms 400ms 800ms 1.6s 3.2s 5s 5s"},
		{Options{Backoff: time.Second, MaxBackoff: 3 * time.Second}, "1s 2s 3s 3s 3s 3s 3s 3s"},
		{Options{Backoff: time.Second, MaxBackoff: 1 << 62}, "1s 2s 4s 8s 16s 32s 1m4s 2m8s"},
	}
	for _, tt := range tests {
		var got []time.Duration
		o := tt.opts.withDefaults()
		for i := range 8 {
			got = append(got, o.backoff(i))
		}
		if fmtDurations(got) != tt.want {
			t.Errorf("%+v: backoff %s, want %s", tt.opts, fmtDurations(got), tt.want)
		}
	}
}

func TestOpenRetriesConnection(t *testing.T) {
	srv := newObjectServer(t, pattern(10, 12), false)
	url := srv.URL + "/a.tar?X-Amz-Credential=" + testAccessKey
	srv.Close()
	w := &waits{}
	_, err := Open(context.Background(), url, Options{Sleep: w.sleep})
	if seen(err) == nil {
		t.Fatal("Open of a closed server succeeded")
	}
	if len(w.all()) != DefaultRetries {
		t.Errorf("%d retries, want %d", len(w.all()), DefaultRetries)
	}
	if !strings.HasPrefix(err.Error(), strings.TrimSuffix(url[:strings.Index(url, "?")], "?")+": ") || strings.Contains(err.Error(), "\n") {
		t.Errorf("error %q", err)
	}
}

func TestOpenRangeResumes(t *testing.T) {
	const size = 512 << 10
	tests := []struct {
		name        string
		cutAtOpen   bool
		read        func(*Source) ([]byte, error)
		off, n      int64
		wantResumes int64
	}{
		{"OpenRange", false, nil, 70 << 10, 400 << 10, 400/8 - 1},
		{"a large ReadAt", false, func(s *Source) ([]byte, error) {
			p := make([]byte, 400<<10)
			_, err := s.ReadAt(p, 70<<10)
			return p, err
		}, 70 << 10, 400 << 10, 400/8 - 1},
		{"the first window", true, func(s *Source) ([]byte, error) {
			p := make([]byte, 64<<10)
			_, err := s.ReadAt(p, 0)
			return p, err
		}, 0, 64 << 10, 64/8 - 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := pattern(size, 13)
			srv := newObjectServer(t, data, false)
			if tt.cutAtOpen {
				srv.with(func() { srv.cut = 8 << 10 })
			}
			w := &waits{}
			src := mustOpen(t, srv.URL+"/a.tar", testOptions(srv, w))
			srv.with(func() { srv.cut = 8 << 10 })
			var got []byte
			var err error
			if tt.read != nil {
				got, err = tt.read(src)
			} else {
				var r io.ReadCloser
				if r, err = src.OpenRange(context.Background(), tt.off, tt.n); err == nil {
					got, err = io.ReadAll(r)
					r.Close()
				}
			}
			if err != nil {
				t.Fatal(seen(err))
			}
			if !bytes.Equal(got, data[tt.off:tt.off+tt.n]) {
				t.Error("other bytes")
			}
			st := src.Stats()
			if st.Resumes != tt.wantResumes || st.Retries != 0 {
				t.Errorf("Stats = %+v, want %d resumes and no retry", st, tt.wantResumes)
			}
			for _, d := range w.all() {
				if d != DefaultBackoff {
					t.Errorf("waited %v after a resume that made progress, want %v", d, DefaultBackoff)
				}
			}
		})
	}
}

// TestOpenRangeGivesUp: a stream that fails Retries times in a row
// without a byte coming fails.
func TestOpenRangeGivesUp(t *testing.T) {
	data := pattern(300<<10, 14)
	srv := newObjectServer(t, data, false)
	src := mustOpen(t, srv.URL+"/a.tar", testOptions(srv, &waits{}))
	srv.with(func() { srv.cut = 10 << 10 })
	r, err := src.OpenRange(context.Background(), 100<<10, 100<<10)
	if err != nil {
		t.Fatal(seen(err))
	}
	defer r.Close()
	if _, err := io.ReadFull(r, make([]byte, 10<<10)); err != nil {
		t.Fatal(seen(err))
	}
	srv.with(func() { srv.failures = []int{503, 503, 503, 503, 503, 503, 503} })
	_, err = io.ReadAll(r)
	if !errors.Is(seen(err), ErrStatus) {
		t.Fatalf("reading on: %v, want ErrStatus after the retries", err)
	}
	if st := src.Stats(); st.Resumes != 1 || st.Retries != DefaultRetries-1 {
		t.Errorf("Stats = %+v, want 1 resume, then %d retries", st, DefaultRetries-1)
	}
}

// TestOpenRangeIdle: a response that stalls is dropped after the idle
// timeout and resumed.
func TestOpenRangeIdle(t *testing.T) {
	data := pattern(300<<10, 15)
	srv := newObjectServer(t, data, false)
	opts := testOptions(srv, &waits{})
	opts.IdleTimeout = 50 * time.Millisecond
	src := mustOpen(t, srv.URL+"/a.tar", opts)
	srv.with(func() { srv.stall = 20 << 10 })
	r, err := src.OpenRange(context.Background(), 100<<10, 150<<10)
	if err != nil {
		t.Fatal(seen(err))
	}
	defer r.Close()
	if got := readAll(t, r); !bytes.Equal(got, data[100<<10:250<<10]) {
		t.Error("other bytes")
	}
	if st := src.Stats(); st.Resumes != 1 {
		t.Errorf("Stats = %+v, want 1 resume", st)
	}
}

// TestOpenIdle: with no retries, the idle timeout is one ErrTimeout.
func TestOpenIdle(t *testing.T) {
	srv := newObjectServer(t, pattern(300<<10, 16), false)
	srv.with(func() { srv.stall = 1000 })
	opts := testOptions(srv, &waits{})
	opts.IdleTimeout, opts.Retries = 50*time.Millisecond, -1
	_, err := Open(context.Background(), srv.URL+"/a.tar", opts)
	if !errors.Is(seen(err), ErrTimeout) {
		t.Fatalf("Open: %v, want ErrTimeout", err)
	}
	if want := srv.URL + "/a.tar: reading at offset 1000: timed out: nothing received for 50ms"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}

func TestOpenRangeBounds(t *testing.T) {
	srv := newObjectServer(t, pattern(100<<10, 17), false)
	src := mustOpen(t, srv.URL+"/a.tar", testOptions(srv, &waits{}))
	tests := []struct {
		off, n int64
		ok     bool
	}{
		{0, 0, true}, {100 << 10, 0, true}, {0, 100 << 10, true}, {-1, 1, false}, {0, -1, false}, {1, 100 << 10, false}, {100<<10 + 1, 0, false},
	}
	for _, tt := range tests {
		r, err := src.OpenRange(context.Background(), tt.off, tt.n)
		if (err == nil) != tt.ok {
			t.Errorf("OpenRange(%d, %d): %v, want ok %v", tt.off, tt.n, seen(err), tt.ok)
			continue
		}
		if err == nil {
			if got := readAll(t, r); int64(len(got)) != tt.n {
				t.Errorf("OpenRange(%d, %d) gave %d bytes", tt.off, tt.n, len(got))
			}
		}
	}
}

func TestOpenName(t *testing.T) {
	srv := newObjectServer(t, pattern(100, 18), false)
	host := strings.TrimPrefix(srv.URL, "http://")
	tests := []struct {
		url, name string
	}{
		{"http://user:" + testPassword + "@" + host + "/a.tar", "http://" + host + "/a.tar"},
		{srv.URL + "/dir/a%20b.tar?X-Amz-Credential=" + testAccessKey + "&X-Amz-Signature=" + testSignature, srv.URL + "/dir/a%20b.tar"},
		{srv.URL + "/a.tar#frag", srv.URL + "/a.tar"},
	}
	for _, tt := range tests {
		src := mustOpen(t, tt.url, testOptions(srv, &waits{}))
		if src.Name() != tt.name {
			t.Errorf("Name = %q, want %q", src.Name(), tt.name)
		}
	}
	reqs := srv.got()
	if u, p, _ := reqs[0].BasicAuth(); u != "user" || p != testPassword {
		t.Error("the userinfo of the URL was not sent as basic authentication")
	}
	if reqs[1].URL.Query().Get("X-Amz-Signature") != testSignature {
		t.Error("the query string was not sent")
	}
}

func TestOpenBadLocation(t *testing.T) {
	for _, loc := range []string{
		"ftp://h/a.tar", "http:///a.tar", "http://h:port/a.tar?X-Amz-Signature=" + testSignature, "/a.tar", "s3://", "s3://b", "s3://b/", "s3://b:c/k",
	} {
		if _, err := Open(context.Background(), loc, Options{}); seen(err) == nil {
			t.Errorf("Open(%q) succeeded", loc)
		}
	}
}

// TestOpenBadAnswers: a server that answers other than it was asked
// gets one error naming what it did.
func TestOpenBadAnswers(t *testing.T) {
	body := strings.Repeat("x", 100)
	tests := []struct {
		name         string
		contentRange string
		want         string
	}{
		{"no Content-Range", "", `invalid Content-Range ""`},
		{"a total that is no number", "bytes 0-99/abc", `invalid Content-Range "bytes 0-99/abc"`},
		{"an unknown total", "bytes 0-99/*", `invalid Content-Range "bytes 0-99/*"`},
		{"a range past the total", "bytes 0-99/50", `invalid Content-Range "bytes 0-99/50"`},
		{"other bytes", "bytes 5-104/1000", "asked for bytes 0-65535, answered 5-104"},
		{"more than a window", "bytes 0-99999/200000", "asked for bytes 0-65535, answered 0-99999"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newObjectServer(t, nil, false)
			srv.with(func() {
				srv.raw = func(w http.ResponseWriter, r *http.Request) {
					if tt.contentRange != "" {
						w.Header().Set("Content-Range", tt.contentRange)
					}
					w.WriteHeader(http.StatusPartialContent)
					io.WriteString(w, body)
				}
			})
			opts := testOptions(srv, &waits{})
			opts.Retries = -1
			_, err := Open(context.Background(), srv.URL+"/a.tar", opts)
			if want := srv.URL + "/a.tar: " + tt.want; seen(err) == nil || err.Error() != want {
				t.Errorf("Open: %v, want %q", err, want)
			}
		})
	}
}
