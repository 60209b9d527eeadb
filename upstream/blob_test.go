package upstream

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocitar/ocitar/internal/errkind"
	digest "github.com/opencontainers/go-digest"
)

func TestRepositoryBlob(t *testing.T) {
	blob := bytes.Repeat([]byte("layer "), 10000)
	d := digest.FromBytes(blob)
	blobPath := "/v2/team/app/blobs/" + d.String()
	tests := []struct {
		name     string
		redirect string // "" serves the blob; "self" or "storage" redirects there
		served   []byte
		status   int
		err      []error // of Blob, or else of reading it
		storage  string  // the Authorization the storage host saw
	}{
		{name: "served", served: blob},
		{name: "redirected to the registry", redirect: "self", served: blob},
		{name: "redirected to storage", redirect: "storage", served: blob},
		{name: "404", status: http.StatusNotFound, err: []error{fs.ErrNotExist}},
		{name: "500", status: http.StatusInternalServerError, err: []error{ErrUnavailable}},
		{name: "another blob", served: append([]byte("x"), blob[1:]...), err: []error{errkind.ErrDigestMismatch, ErrUnavailable}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			realm := tokenRealm(t, 300)
			registry := bearerRegistry(t, realm)
			storage := newFakeServer(t, map[string]response{"/blob": ok(tt.served)})
			switch tt.redirect {
			case "":
				registry.routes[blobPath] = response{status: tt.status, body: tt.served}
				if tt.status == 0 {
					registry.routes[blobPath] = ok(tt.served)
				}
			case "self":
				registry.routes[blobPath] = redirect(registry.URL + "/blob")
				registry.routes["/blob"] = ok(tt.served)
			case "storage":
				registry.routes[blobPath] = redirect(storage.URL + "/blob?X-Amz-Signature=sig")
			}
			size, open, err := route(t, newTestSet(t, Options{}, registry.URL), "", "team/app").Blob(context.Background(), d)
			var data []byte
			if err == nil {
				data, err = readBlob(open, 0)
			}
			if tt.err != nil {
				if err == nil {
					t.Fatalf("no error; want %v", tt.err)
				}
				for _, kind := range tt.err {
					if !errors.Is(err, kind) {
						t.Errorf("%v is not %v", err, kind)
					}
				}
				if !strings.Contains(err.Error(), registry.URL+blobPath) {
					t.Errorf("%v does not name %s", err, registry.URL+blobPath)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if size != int64(len(blob)) || !bytes.Equal(data, blob) {
				t.Errorf("Blob = %d bytes, read %d; want %d", size, len(data), len(blob))
			}
			if tt.redirect == "self" {
				if seen := registry.requests("/blob"); len(seen) != 1 || seen[0].authorization != "Bearer "+testToken {
					t.Errorf("the registry's redirect target saw %+v; want the token", seen)
				}
			}
			if seen := storage.requests(""); tt.redirect == "storage" && (len(seen) != 1 || seen[0].authorization != "") {
				t.Errorf("the storage host saw %+v; want one request without Authorization", seen)
			}
		})
	}
}

func redirect(location string) response {
	return response{status: http.StatusTemporaryRedirect, header: http.Header{"Location": {location}}}
}

// readBlob reads all of what open gives from start.
func readBlob(open func(context.Context, int64) (io.ReadCloser, error), start int64) ([]byte, error) {
	rc, err := open(context.Background(), start)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func TestRepositoryBlobStart(t *testing.T) {
	blob := []byte("0123456789")
	d := digest.FromBytes(blob)
	srv := newFakeServer(t, map[string]response{"/v2/app/blobs/" + d.String(): ok(blob)})
	_, open, err := route(t, newTestSet(t, Options{}, srv.URL), "", "app").Blob(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		start int64
		want  string
	}{{0, "0123456789"}, {4, "456789"}, {10, ""}, {11, "error"}, {-1, "error"}}
	for _, tt := range tests {
		data, err := readBlob(open, tt.start)
		got := string(data)
		if err != nil {
			got = "error"
		}
		if got != tt.want {
			t.Errorf("from %d: %q, %v; want %q", tt.start, data, err, tt.want)
		}
	}
}

// TestRepositoryBlobConcurrent has 8 callers ask for a blob whose body the
// upstream holds back, after its first half, until each has its reader: one
// GET serves them all. (Its Content-Length lets Fill return before the end.)
func TestRepositoryBlobConcurrent(t *testing.T) {
	const callers = 8
	blob := bytes.Repeat([]byte("concurrent "), 100000)
	d := digest.FromBytes(blob)
	release := make(chan struct{})
	var releaseOnce sync.Once
	releaseAll := func() { releaseOnce.Do(func() { close(release) }) }
	srv := newFakeServer(t, nil)
	t.Cleanup(releaseAll)
	srv.gate = func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Content-Length", strconv.Itoa(len(blob)))
		w.WriteHeader(http.StatusOK)
		w.Write(blob[:len(blob)/2])
		w.(http.Flusher).Flush()
		<-release
		w.Write(blob[len(blob)/2:])
		return false
	}
	repo := route(t, newTestSet(t, Options{}, srv.URL), "", "app")
	var opened, done sync.WaitGroup
	errs := make([]error, callers)
	for i := range callers {
		opened.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			_, open, err := repo.Blob(context.Background(), d)
			opened.Done()
			if err != nil {
				errs[i] = err
				return
			}
			data, err := readBlob(open, 0)
			if err == nil && !bytes.Equal(data, blob) {
				err = errors.New("read another blob")
			}
			errs[i] = err
		}()
	}
	allOpened := make(chan struct{})
	go func() {
		opened.Wait()
		close(allOpened)
	}()
	select {
	case <-allOpened:
	case <-time.After(time.Minute):
		t.Fatal("the callers wait for each other's fetch: it is not shared")
	}
	releaseAll()
	done.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.requests("")); n != 1 {
		t.Errorf("%d GET of the blob for %d callers; want 1", n, callers)
	}
}

func TestRepositoryBlobError(t *testing.T) {
	d := digest.FromString("absent")
	srv := newFakeServer(t, map[string]response{"/v2/app/blobs/" + d.String(): redirect("/gone?X-Amz-Signature=sig")})
	_, _, err := route(t, newTestSet(t, Options{}, srv.URL), "", "app").Blob(context.Background(), d)
	checkError(t, err, srv.URL+"/v2/app/blobs/"+d.String()+" (redirected to "+srv.URL+"/gone)", fs.ErrNotExist)
	if strings.Contains(err.Error(), "sig") {
		t.Errorf("%v shows the signature", err)
	}
}

// TestRepositoryBlobStalled: an upstream that sends part of a blob and then
// nothing fails the fetch after the idle timeout, so its reader gets an
// error wrapping ErrUnavailable rather than waiting for ever, and nothing is
// kept; the next Blob fetches again.
func TestRepositoryBlobStalled(t *testing.T) {
	blob := bytes.Repeat([]byte("stalled "), 8192)
	d := digest.FromBytes(blob)
	release := make(chan struct{})
	defer close(release)
	var gets atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gets.Add(1)
		w.Header().Set("Content-Length", strconv.Itoa(len(blob)))
		w.Write(blob[:len(blob)/2])
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	set := newTestSet(t, Options{IdleTimeout: 50 * time.Millisecond}, srv.URL)
	for range 2 {
		_, open, err := route(t, set, "", "app").Blob(context.Background(), d)
		if err != nil {
			t.Fatal(err)
		}
		data, err := readBlob(open, 0)
		if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "no byte for") || len(data) == len(blob) {
			t.Fatalf("read %d bytes, %v; want part of the blob and an error wrapping ErrUnavailable that says it stalled", len(data), err)
		}
	}
	if n := gets.Load(); n != 2 {
		t.Errorf("%d GETs, want 2: a failed fetch keeps nothing", n)
	}
}
