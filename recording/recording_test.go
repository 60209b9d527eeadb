package recording

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocitar/ocitar/archive"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// logLines collects a Recording's log.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, line)
}

func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// record pulls pulls through a new Recording to path, snapshots and closes it.
func record(t *testing.T, path string, c *fakeContent, opts Options, pulls ...pull) Summary {
	t.Helper()
	r, err := New(context.Background(), path, c, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, p := range pulls {
		c.serve(t, r, p)
	}
	sum, err := r.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	return sum
}

// listed are the images of the archive at path as "NAME DIGEST", NAME "-" for none,
// after checking the archive whole with archive.Verify.
func listed(t *testing.T, path string) []string {
	t.Helper()
	if rep := archive.Verify(path, archive.Options{}); len(rep.Problems) > 0 {
		t.Fatalf("archive.Verify(%s): %v", path, rep.Problems)
	}
	ar, err := archive.Open(path, archive.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ar.Close()
	var got []string
	for _, img := range ar.Images() {
		name := img.Descriptor.Annotations[ocispec.AnnotationRefName]
		if name == "" {
			name = "-"
		}
		got = append(got, name+" "+img.Descriptor.Digest.String())
	}
	return got
}

func image(name string, d ocispec.Descriptor) string {
	return name + " " + d.Digest.String()
}

func TestRecordingSnapshot(t *testing.T) {
	w := newWorld(t) // the digests rows name; each row runs on a world of its own
	tests := []struct {
		name      string
		referrers bool
		pulls     []pull
		want      func(w world) []string
		leftOut   int
		logs      func(w world) []string // what the log names
		spoil     func(w world)          // what goes wrong in the row's world
	}{
		{"tag pull", false, []pull{{"1", true}},
			func(w world) []string { return []string{image(repo+":1", w.app)} }, 0, nil, nil},
		{"digest pull", false, []pull{{w.app.Digest.String(), true}},
			func(w world) []string { return []string{image(repo+"@"+w.app.Digest.String(), w.app)} }, 0, nil, nil},
		{"tag resolved, then pulled by digest", false, []pull{{"1", false}, {w.app.Digest.String(), true}},
			func(w world) []string { return []string{image(repo+":1", w.app)} }, 0, nil, nil},
		{"two names of one digest", false, []pull{{"1", true}, {"latest", false}},
			func(w world) []string { return []string{image(repo+":1", w.app), image(repo+":latest", w.app)} }, 0, nil, nil},
		{"index with one of two platforms", false, []pull{{"multi", false}, {w.amd64.Digest.String(), true}},
			func(w world) []string { return []string{image(repo+":multi", w.index)} }, 0, nil, nil},
		{"index with no platform pulled", false, []pull{{"multi", false}},
			func(w world) []string { return nil }, 1,
			func(w world) []string { return []string{repo + ":multi", "none of its platforms"} }, nil},
		{"blobs never served are fetched", false, []pull{{"1", false}},
			func(w world) []string { return []string{image(repo+":1", w.app)} }, 0, nil, nil},
		{"blob unavailable leaves the image out", false, []pull{{"1", true}, {"broken", false}},
			func(w world) []string { return []string{image(repo+":1", w.app)} }, 1,
			func(w world) []string { return []string{repo + ":broken", w.brokenLayer.String()} }, nil},
		{"referrers and the cosign tag", true, []pull{{"1", true}},
			func(w world) []string {
				return []string{image(repo+":1", w.app), image(repo+":"+w.cosignTag, w.cosign), image("-", w.referrer)}
			}, 0, nil, nil},
		{"referrers off", false, []pull{{"1", true}},
			func(w world) []string { return []string{image(repo+":1", w.app)} }, 0, nil, nil},
		{"cosign tag unavailable", true, []pull{{"1", true}},
			func(w world) []string { return []string{image(repo+":1", w.app), image("-", w.referrer)} }, 0,
			func(w world) []string { return []string{repo + ":" + w.cosignTag, "i/o timeout"} },
			func(w world) { w.content.refErrs = map[string]error{w.cosignTag: os.ErrDeadlineExceeded} }},
		{"referrer unavailable", true, []pull{{"1", true}},
			func(w world) []string {
				return []string{image(repo+":1", w.app), image(repo+":"+w.cosignTag, w.cosign)}
			}, 0,
			func(w world) []string { return []string{w.referrer.Digest.String(), "a referrer", "not exist"} },
			func(w world) { delete(w.content.blobs, w.referrer.Digest) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			if tt.spoil != nil {
				tt.spoil(w)
			}
			path := filepath.Join(t.TempDir(), "out.tar")
			var log logLines
			sum := record(t, path, w.content, Options{Referrers: tt.referrers, Log: log.add}, tt.pulls...)
			want := tt.want(w)
			if got := listed(t, path); !slices.Equal(got, want) {
				t.Errorf("images %q, want %q", got, want)
			}
			if sum.Images != len(want) || sum.LeftOut != tt.leftOut {
				t.Errorf("summary %+v, want %d images, %d left out", sum, len(want), tt.leftOut)
			}
			if tt.logs == nil && log.String() != "" {
				t.Errorf("log %q, want none", log.String())
			}
			if tt.logs != nil {
				for _, s := range tt.logs(w) {
					if !strings.Contains(log.String(), s) {
						t.Errorf("log %q does not name %s", log.String(), s)
					}
				}
			}
		})
	}
}

func TestRecordingSnapshotPartialIndex(t *testing.T) {
	w := newWorld(t)
	path := filepath.Join(t.TempDir(), "out.tar")
	record(t, path, w.content, Options{}, pull{"multi", false}, pull{w.amd64.Digest.String(), false})
	ar, err := archive.Open(path, archive.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ar.Close()
	img := ar.Images()[0]
	if len(img.Platforms) != 1 || img.Platforms[0].Architecture != "amd64" {
		t.Errorf("platforms %+v, want linux/amd64 alone", img.Platforms)
	}
	data, _, err := ar.Manifest(w.index.Digest)
	if err != nil || digest.FromBytes(data) != w.index.Digest {
		t.Errorf("the index as served is not in the archive: %v", err)
	}
	if rc, _, err := ar.OpenBlob(w.arm64.Digest); err == nil {
		rc.Close()
		t.Errorf("the arm64 manifest, never pulled, is in the archive")
	}
	if n := w.content.openCount(layerOf(t, w.content, w.amd64)); n == 0 {
		t.Errorf("the amd64 layer, never served, was not fetched through Content")
	}
}

func TestRecordingSeed(t *testing.T) {
	w := newWorld(t)
	path := filepath.Join(t.TempDir(), "out.tar")
	record(t, path, w.content, Options{}, pull{"1", true})
	w.content.set(func(c *fakeContent) { delete(c.blobs, w.appLayer) }) // read from the first recording, not Content
	sum := record(t, path, w.content, Options{}, pull{"multi", false}, pull{w.amd64.Digest.String(), true})
	want := []string{image(repo+":1", w.app), image(repo+":multi", w.index)}
	if got := listed(t, path); !slices.Equal(got, want) {
		t.Errorf("images %q, want %q", got, want)
	}
	if sum.Images != 2 {
		t.Errorf("summary %+v, want 2 images", sum)
	}
}

// TestNewSeededFromOtherArchives: a recording to the path of an archive
// ocitar did not write keeps its images, names and digests.
func TestNewSeededFromOtherArchives(t *testing.T) {
	samples := []string{"sample.docker.tar", "sample-multi.oci.tar", "peers/a-docker-2layer.crane-tarball.tar", "peers/a-docker-2layer.docker20.tar",
		"peers/a-docker-2layer.skopeo.tar", "peers/b-oci-one.skopeo.tar", "peers/c-oci-multi.skopeo.tar", "peers/h-hello-world-docker25.ggcr-fixture.tar"}
	for _, sample := range samples {
		t.Run(sample, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "out.tar")
			if err := os.WriteFile(path, []byte(readFile(t, filepath.Join("..", "testdata", sample))), 0o644); err != nil {
				t.Fatal(err)
			}
			src, err := archive.Open(path, archive.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, img := range src.Images() {
				names := seededNames(img)
				if len(names) == 0 {
					names = []string{"-"}
				}
				for _, name := range names {
					want = append(want, image(name, img.Descriptor))
				}
			}
			src.Close()
			slices.Sort(want)
			record(t, path, newWorld(t).content, Options{})
			if got := slices.Sorted(slices.Values(listed(t, path))); !slices.Equal(got, want) || len(got) == 0 {
				t.Errorf("images %q, want %q", got, want)
			}
		})
	}
}

func TestNewNotAnArchive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.tar")
	if err := os.WriteFile(path, []byte("not an archive"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := New(context.Background(), path, newWorld(t).content, Options{})
	if err == nil || !strings.Contains(err.Error(), path) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("New of a file that is no archive: %v; want one line naming %s", err, path)
	}
	if data, _ := os.ReadFile(path); string(data) != "not an archive" {
		t.Errorf("%s was changed to %q", path, data)
	}
	assertFiles(t, filepath.Dir(path), "out.tar")
}

func TestSnapshotFailureKeepsTheLastOne(t *testing.T) {
	tests := []struct {
		name  string
		spoil func(c *fakeContent)
	}{
		{"Content fails", func(c *fakeContent) { c.openErr = os.ErrDeadlineExceeded }},
		{"Content serves other bytes", func(c *fakeContent) { c.corrupt = true }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			r, path := snapshotOfOne(t, w)
			before, lockBefore := readFile(t, path), readFile(t, path+".lock.json")
			w.content.serve(t, r, pull{"multi", false})
			w.content.serve(t, r, pull{w.amd64.Digest.String(), true})
			w.content.set(tt.spoil)
			if _, err := r.Snapshot(context.Background()); err == nil || !strings.Contains(err.Error(), path) {
				t.Fatalf("Snapshot: %v; want an error naming %s", err, path)
			}
			if readFile(t, path) != before || readFile(t, path+".lock.json") != lockBefore {
				t.Errorf("the failed snapshot changed %s or its lock list", path)
			}
			assertFiles(t, filepath.Dir(path), "out.tar", "out.tar.lock.json")
		})
	}
}

// TestSnapshotLeavesOutWhatContentLost: an image a served blob of which
// Content no longer has is left out, and the others written.
func TestSnapshotLeavesOutWhatContentLost(t *testing.T) {
	w := newWorld(t)
	path := filepath.Join(t.TempDir(), "out.tar")
	var log logLines
	r, err := New(context.Background(), path, w.content, Options{Log: log.add})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, p := range []pull{{"1", true}, {"multi", false}, {w.amd64.Digest.String(), true}} {
		w.content.serve(t, r, p)
	}
	lost := layerOf(t, w.content, w.amd64)
	w.content.set(func(c *fakeContent) { delete(c.blobs, lost) })
	sum, err := r.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := listed(t, path), []string{image(repo+":1", w.app)}; !slices.Equal(got, want) {
		t.Errorf("images %q, want %q", got, want)
	}
	if sum.Images != 1 || sum.LeftOut != 1 {
		t.Errorf("summary %+v, want 1 image, 1 left out", sum)
	}
	if !strings.Contains(log.String(), repo+":multi") || !strings.Contains(log.String(), lost.String()) {
		t.Errorf("log %q does not name the image and the blob lost", log.String())
	}
	if lock := readFile(t, path+".lock.json"); strings.Contains(lock, "multi") {
		t.Errorf("the lock list names the image left out: %s", lock)
	}
}

// TestSnapshotWritesBesideThePath: while a snapshot is being written the
// path holds the last one whole, the new one growing in a file beside it, so
// a process killed then leaves the last snapshot as it was.
func TestSnapshotWritesBesideThePath(t *testing.T) {
	w := newWorld(t)
	r, path := snapshotOfOne(t, w)
	before := readFile(t, path)
	gate := make(chan struct{})
	w.content.set(func(c *fakeContent) { c.gate = gate })
	w.content.serve(t, r, pull{"multi", false})
	w.content.serve(t, r, pull{w.amd64.Digest.String(), true})
	done := make(chan error, 1)
	go func() {
		_, err := r.Snapshot(context.Background())
		done <- err
	}()
	var temps []string
	for deadline := time.Now().Add(10 * time.Second); len(temps) == 0 && time.Now().Before(deadline); runtime.Gosched() {
		temps, _ = filepath.Glob(filepath.Join(filepath.Dir(path), ".out.tar.ocitar-*"))
	}
	during := readFile(t, path)
	close(gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if during != before || len(temps) != 1 {
		t.Errorf("during the snapshot, %s changed (%v) and %d files were beside it, want it unchanged and one", path, during != before, len(temps))
	}
	if got := listed(t, path); len(got) != 2 {
		t.Errorf("after the snapshot, images %q, want app:1 and app:multi", got)
	}
	assertFiles(t, filepath.Dir(path), "out.tar", "out.tar.lock.json")
}

func TestSnapshotLockList(t *testing.T) {
	w := newWorld(t)
	path := filepath.Join(t.TempDir(), "out.tar")
	record(t, path, w.content, Options{Referrers: true}, pull{"latest", true}, pull{"multi", false}, pull{w.amd64.Digest.String(), true})
	want := `{
  "images": {
    "example.com/team/app:latest": "` + w.app.Digest.String() + `",
    "example.com/team/app:multi": "` + w.index.Digest.String() + `",
    "example.com/team/app:` + w.cosignTag + `": "` + w.cosign.Digest.String() + `"
  }
}
`
	if got := readFile(t, path+".lock.json"); got != want {
		t.Errorf("lock list\n%s\nwant\n%s", got, want)
	}
}

func TestSnapshotCompressedByName(t *testing.T) {
	for _, name := range []string{"out.tar", "out.tar.gz", "out.tar.zst"} {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			path := filepath.Join(t.TempDir(), name)
			record(t, path, w.content, Options{}, pull{"1", true})
			if got, want := listed(t, path), []string{image(repo+":1", w.app)}; !slices.Equal(got, want) {
				t.Errorf("images %q, want %q", got, want)
			}
			if name != "out.tar" && strings.HasPrefix(readFile(t, path)[257:], "ustar") {
				t.Errorf("%s is a plain tar", name)
			}
		})
	}
}

// TestSnapshotWhilePulling records while a snapshot is taken: run with -race.
func TestSnapshotWhilePulling(t *testing.T) {
	w := newWorld(t)
	path := filepath.Join(t.TempDir(), "out.tar")
	r, err := New(context.Background(), path, w.content, Options{Referrers: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var pulling sync.WaitGroup
	for _, p := range []pull{{"1", false}, {"latest", true}, {"multi", false}, {w.amd64.Digest.String(), false}} {
		pulling.Go(func() { w.content.serve(t, r, p) })
	}
	if _, err := r.Snapshot(context.Background()); err != nil {
		t.Fatal(err)
	}
	pulling.Wait()
	sum, err := r.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := listed(t, path); len(got) != 5 || sum.Images != 5 {
		t.Errorf("images %q (summary %+v), want app:1, app:latest, app:multi, the cosign tag and the referrer", got, sum)
	}
}

// TestManifestFetchesMissingBlobs: the blobs of a manifest no client fetched
// are fetched in the background, before any snapshot, backgroundLimit at once.
func TestManifestFetchesMissingBlobs(t *testing.T) {
	w := newWorld(t)
	gate := make(chan struct{})
	w.content.gate = gate
	r, err := New(context.Background(), filepath.Join(t.TempDir(), "out.tar"), w.content, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	w.content.serve(t, r, pull{"wide", false})
	deadline := time.Now().Add(10 * time.Second)
	for w.content.inFlightNow() < backgroundLimit && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	close(gate)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	data := w.content.blobs[w.wide.Digest]
	members, err := manifestBlobs(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range members {
		if n := w.content.openCount(b.Digest); n != 1 {
			t.Errorf("blob %s opened %d times, want once", b.Digest, n)
		}
	}
	if w.content.maxFlight != backgroundLimit {
		t.Errorf("%d fetches at once, want %d", w.content.maxFlight, backgroundLimit)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// assertFiles fails unless dir holds exactly names.
func assertFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if !slices.Equal(got, names) {
		t.Errorf("%s holds %q, want %q", dir, got, names)
	}
}

// TestNewRemovesLeftovers: the temporary file of a snapshot a kill cut short
// is removed by the next recording to the path, and only that one.
func TestNewRemovesLeftovers(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.tar")
	for _, name := range []string{".out.tar.ocitar-123", "other.tar", ".other.tar.ocitar-9"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("cut short"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var logs []string
	r, err := New(context.Background(), path, newWorld(t).content, Options{Log: func(line string) { logs = append(logs, line) }})
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	assertFiles(t, dir, ".other.tar.ocitar-9", "other.tar")
	if len(logs) != 1 || !strings.Contains(logs[0], ".out.tar.ocitar-123") {
		t.Errorf("logged %q, want one line naming the file removed", logs)
	}
}

// snapshotOfOne is a recording to out.tar in a temporary directory, closed
// when the test ends, that holds a snapshot of tag 1 pulled whole.
func snapshotOfOne(t *testing.T, w world) (*Recording, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "out.tar")
	r, err := New(context.Background(), path, w.content, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	w.content.serve(t, r, pull{"1", true})
	if _, err := r.Snapshot(context.Background()); err != nil {
		t.Fatal(err)
	}
	return r, path
}
