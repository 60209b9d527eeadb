package main

import (
	"compress/gzip"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocitar/ocitar/archive"
	"golang.org/x/crypto/bcrypt"
)

// idleClients is how many connections TestServeIdleConnections holds open.
const idleClients = 400

// TestServeIdleConnections holds hundreds of connections open, half of them
// silent and half stalled in the middle of their headers, and still
// completes a pull.
func TestServeIdleConnections(t *testing.T) {
	path, blobs := writeImageArchive(t, filepath.Join(t.TempDir(), "app.tar"), "example.com/app:1", 2, 1<<20)
	p := startServe(t, "--quiet", path)
	addr := strings.TrimPrefix(p.url, "http://")
	for i := range idleClients {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		t.Cleanup(func() { conn.Close() })
		if i%2 == 0 {
			if _, err := conn.Write([]byte("GET /v2/ HTTP/1.1\r\nHost: x\r\n")); err != nil {
				t.Fatal(err)
			}
		}
	}
	client := &http.Client{Transport: &http.Transport{}}
	if err := pullBlobs(client, p.url, "example.com/app", "1", blobs); err != nil {
		t.Fatal(err)
	}
}

// TestServeTLSAndAuth serves HTTPS to the users of an htpasswd file, and
// never logs a credential.
func TestServeTLSAndAuth(t *testing.T) {
	dir := t.TempDir()
	path, blobs := writeImageArchive(t, filepath.Join(dir, "app.tar"), "example.com/app:1", 1, 1<<20)
	certFile, keyFile, pool := writeCertificate(t, dir)
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret-pass"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	users := filepath.Join(dir, "htpasswd")
	if err := os.WriteFile(users, []byte("alice:"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startServe(t, "--tls-cert", certFile, "--tls-key", keyFile, "--htpasswd", users, path)
	if !regexp.MustCompile(`^ocitar serve: serving on https://127\.0\.0\.1:[0-9]+$`).MatchString(p.stderr()[0]) {
		t.Fatalf("ready line %q", p.stderr()[0])
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get(p.url + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic realm=") {
		t.Errorf("without credentials: %d, WWW-Authenticate %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	authed := &http.Client{Transport: basicAuth{client.Transport, "alice", "s3cret-pass"}}
	if err := pullBlobs(authed, p.url, "example.com/app", "1", blobs); err != nil {
		t.Fatal(err)
	}
	if plain, err := http.Get(strings.Replace(p.url, "https:", "http:", 1) + "/v2/"); err == nil {
		plain.Body.Close()
		if plain.StatusCode != http.StatusBadRequest {
			t.Errorf("plain HTTP was answered %d", plain.StatusCode)
		}
	}
	p.waitLine(t, "GET /v2/example.com/app/manifests/1 200")
	p.stop(t, syscall.SIGTERM)
	secret := base64.StdEncoding.EncodeToString([]byte("alice:s3cret-pass"))
	for _, line := range p.stderr() {
		if strings.Contains(line, "s3cret") || strings.Contains(line, secret) || strings.Contains(line, "alice") {
			t.Errorf("a credential is logged: %q", line)
		}
	}
}

// basicAuth adds Basic credentials to every request.
type basicAuth struct {
	next           http.RoundTripper
	user, password string
}

func (b basicAuth) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.SetBasicAuth(b.user, b.password)
	return b.next.RoundTrip(r)
}

// writeCertificate writes a self-signed certificate for 127.0.0.1 and its
// key, and returns their paths and a pool that trusts it.
func writeCertificate(t *testing.T, dir string) (string, string, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "ocitar test"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestServeCompressed serves compressed archives in place: ocitar's own
// forms with nothing written anywhere, a foreign gzip through an index kept
// in --cache-dir, which the next start reuses; --tmpdir stays empty.
func TestServeCompressed(t *testing.T) {
	dir := t.TempDir()
	path, blobs := writeImageArchive(t, filepath.Join(dir, "app.tar"), "example.com/app:1", 1, 1<<20)
	tests := []struct {
		name   string
		path   string
		cached int // files under the cache's index/ after the first start
	}{
		{"ocitar zstd", recompressFile(t, path, ".o.tar.zst"), 0},
		{"ocitar gzip", recompressFile(t, path, ".o.tar.gz"), 0},
		{"foreign gzip", gzipFile(t, path), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmp, cacheDir := t.TempDir(), t.TempDir()
			for start := range 2 {
				p := startServe(t, "--tmpdir", tmp, "--cache-dir", cacheDir, tt.path)
				if err := pullBlobs(http.DefaultClient, p.url, "example.com/app", "1", blobs); err != nil {
					t.Fatal(err)
				}
				if status := p.stop(t, syscall.SIGTERM); status != 0 {
					t.Errorf("exit status %d", status)
				}
				if indexes, _ := os.ReadDir(filepath.Join(cacheDir, "index")); len(indexes) != tt.cached {
					t.Errorf("start %d: cache indexes %v, want %d", start, indexes, tt.cached)
				}
			}
			if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
				t.Errorf("--tmpdir: %v", entries)
			}
		})
	}
}

// recompressFile writes path recompressed as ocitar does, under path+ext.
func recompressFile(t *testing.T, path, ext string) string {
	t.Helper()
	out := strings.TrimSuffix(path, ".tar") + ext
	mustOcitar(t, "recompress", path, out)
	return out
}

func gzipFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(path + ".gz")
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	zw := gzip.NewWriter(out)
	zw.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Name()
}

// TestServeVerify: --verify hashes every blob before the ready line, names
// the bad one, and it is never served.
func TestServeVerify(t *testing.T) {
	path, blobs := writeImageArchive(t, filepath.Join(t.TempDir(), "app.tar"), "example.com/app:1", 2, 1<<20)
	bad := blobs[2]
	flipLastByte(t, path, bad.Digest.Encoded())
	p := startServe(t, "--verify", path)
	p.waitLine(t, "1 blob failing its digest")
	if line := p.waitLine(t, bad.Digest.String()); !strings.Contains(line, path) {
		t.Errorf("the line naming the bad blob does not name the archive: %q", line)
	}
	resp, err := http.Get(p.url + "/v2/example.com/app/blobs/" + bad.Digest.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 500 {
		t.Errorf("bad blob: %d", resp.StatusCode)
	}
}

// flipLastByte corrupts the last byte of the archive entry whose name ends in name.
func flipLastByte(t *testing.T, path, name string) {
	t.Helper()
	r, err := archive.Open(path, archive.Options{})
	if err != nil {
		t.Fatal(err)
	}
	entries := r.Entries()
	r.Close()
	i := slices.IndexFunc(entries, func(e archive.Entry) bool { return strings.HasSuffix(e.Name, name) })
	if i < 0 {
		t.Fatalf("%s not in %s", name, path)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	last := entries[i].Offset + entries[i].Size - 1
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, last); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{b[0] ^ 0xff}, last); err != nil {
		t.Fatal(err)
	}
}
