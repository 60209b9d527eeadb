package integration

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/ocitar/ocitar/internal/testcert"
)

// The servers of the remote-archive tests (issue 20): nginx serving files,
// versitygw as an S3 endpoint, python3's http.server, which ignores Range,
// and proxies of the test's own that count or cut what passes.

// The credentials, region and bucket of the versitygw the tests start.
const (
	remoteAccessKey = "OCITARTESTACCESSKEY1"
	remoteSecretKey = "ocitarTestSecretKey/K7MDENGbPxRfiCYEXAMPLE"
	remoteRegion    = "us-east-1"
	remoteBucket    = "bundles"
)

// remoteReadyWait bounds the wait for a server of these tests to answer.
const remoteReadyWait = 20 * time.Second

// remoteWaitAnswer polls url until it gives any HTTP answer, 100 ms apart
// for remoteReadyWait; s is the server that should answer.
func remoteWaitAnswer(t *testing.T, s *server, url string, client *http.Client) {
	t.Helper()
	if client == nil {
		client = &http.Client{Timeout: time.Second}
	}
	deadline := time.Now().Add(remoteReadyWait)
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			return
		}
		select {
		case <-s.exited:
			t.Fatalf("%s exited before answering %s: %v\n  command: %s\n  output: %s", s.p, url, s.cmd.ProcessState, commandLine(s.cmd), readFile(t, s.log))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer %s within %v: %v\n  command: %s\n  output: %s", s.p, url, remoteReadyWait, err, commandLine(s.cmd), readFile(t, s.log))
		}
	}
}

// remoteNginx is an nginx of the test's own, unprivileged with a prefix,
// serving the files of a directory.
type remoteNginx struct {
	url    string // http://127.0.0.1:PORT, or https://
	access string // its access log: method, URI, status, body bytes sent, Range
	*server
}

// remoteNginxStart starts nginx on a free port of 127.0.0.1 serving root;
// with cert and key (PEM files) it serves HTTPS.
func remoteNginxStart(t *testing.T, root, cert, key string) *remoteNginx {
	t.Helper()
	dir := t.TempDir()
	addr := freeAddr(t)
	n := &remoteNginx{url: "http://" + addr, access: filepath.Join(dir, "access.log")}
	listen := addr
	tlsConf := ""
	if cert != "" {
		n.url = "https://" + addr
		listen += " ssl"
		tlsConf = fmt.Sprintf("ssl_certificate %s; ssl_certificate_key %s;", cert, key)
	}
	conf := fmt.Sprintf(`daemon off;
master_process off;
user root;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events { worker_connections 256; }
http {
	log_format counting '$request_method $uri $status $body_bytes_sent "$http_range"';
	access_log %[2]s counting;
	client_body_temp_path %[1]s/client_body;
	proxy_temp_path %[1]s/proxy;
	fastcgi_temp_path %[1]s/fastcgi;
	uwsgi_temp_path %[1]s/uwsgi;
	scgi_temp_path %[1]s/scgi;
	default_type application/octet-stream;
	server {
		listen %[3]s;
		%[4]s
		root %[5]s;
	}
}
`, dir, n.access, listen, tlsConf, root)
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	n.server = startServer(t, dir, nil, nginx, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-e", filepath.Join(dir, "error.log"))
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{TLSClientConfig: remoteInsecureTLS()}}
	remoteWaitAnswer(t, n.server, n.url+"/", client)
	return n
}

// remoteS3 is a versitygw of the test's own over a directory, with
// remoteBucket made.
type remoteS3 struct {
	endpoint string // http://127.0.0.1:PORT
	*server
}

// remoteS3Start starts versitygw on a free port of 127.0.0.1 with the root
// credentials remoteAccessKey and remoteSecretKey, and makes remoteBucket.
func remoteS3Start(t *testing.T) *remoteS3 {
	t.Helper()
	dir := t.TempDir()
	data, meta := filepath.Join(dir, "data"), filepath.Join(dir, "meta")
	for _, d := range []string{data, meta} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	addr := freeAddr(t)
	env := []string{"ROOT_ACCESS_KEY=" + remoteAccessKey, "ROOT_SECRET_KEY=" + remoteSecretKey}
	s := &remoteS3{endpoint: "http://" + addr}
	s.server = startServer(t, dir, env, versitygw, "--port", addr, "posix", "--sidecar", meta, data)
	remoteWaitAnswer(t, s.server, s.endpoint+"/", nil)
	s.put(t, "", "")
	return s
}

// put uploads the file at path (none: an empty body) as key of
// remoteBucket by a signed S3 PUT; an empty key makes the bucket.
func (s *remoteS3) put(t *testing.T, key, path string) {
	t.Helper()
	var body io.ReadSeeker = bytes.NewReader(nil)
	size := int64(0)
	hash := sha256.New()
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if size, err = io.Copy(hash, f); err != nil {
			t.Fatal(err)
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		body = f
	}
	u := s.endpoint + "/" + remoteBucket
	if key != "" {
		u += "/" + key
	}
	req, err := http.NewRequest(http.MethodPut, u, io.NopCloser(body))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = size
	payload := hex.EncodeToString(hash.Sum(nil))
	req.Header.Set("X-Amz-Content-Sha256", payload)
	creds := aws.Credentials{AccessKeyID: remoteAccessKey, SecretAccessKey: remoteSecretKey}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, payload, "s3", remoteRegion, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("S3 PUT %s: %v", u, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("S3 PUT %s: %s\n%s\n  versitygw output: %s", u, resp.Status, msg, readFile(t, s.log))
	}
}

// presign is a presigned GET URL of key, valid for an hour.
func (s *remoteS3) presign(t *testing.T, key string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.endpoint+"/"+remoteBucket+"/"+key, nil)
	if err != nil {
		t.Fatal(err)
	}
	q := req.URL.Query()
	q.Set("X-Amz-Expires", "3600")
	req.URL.RawQuery = q.Encode()
	creds := aws.Credentials{AccessKeyID: remoteAccessKey, SecretAccessKey: remoteSecretKey}
	signed, _, err := v4.NewSigner().PresignHTTP(context.Background(), creds, req, "UNSIGNED-PAYLOAD", "s3", remoteRegion, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

// s3Env is the environment that points ocitar at s: its endpoint, region
// and credentials (secret the secret key), and a HOME without ~/.aws.
func (s *remoteS3) env(t *testing.T, secret string) []string {
	return []string{
		"HOME=" + t.TempDir(),
		"AWS_ACCESS_KEY_ID=" + remoteAccessKey,
		"AWS_SECRET_ACCESS_KEY=" + secret,
		"AWS_REGION=" + remoteRegion,
		"AWS_ENDPOINT_URL=" + s.endpoint,
	}
}

// remotePython starts python3 -m http.server on a free port of 127.0.0.1
// serving root, a server that ignores Range, and returns its URL.
func remotePython(t *testing.T, root string) string {
	t.Helper()
	addr := freeAddr(t)
	host, port, _ := net.SplitHostPort(addr)
	s := startServer(t, t.TempDir(), nil, python3, "-m", "http.server", "--bind", host, "--directory", root, port)
	remoteWaitAnswer(t, s, "http://"+addr+"/", nil)
	return "http://" + addr
}

// remoteCert writes a self-signed certificate for 127.0.0.1, and its key,
// into dir as server.crt and server.key, and returns their paths.
func remoteCert(t *testing.T, dir string) (string, string) {
	t.Helper()
	cert, key, err := testcert.Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// remoteCounter is a reverse proxy in front of a server that counts the
// requests it forwards and the bytes of their answers' bodies. It keeps the
// Host header, so that S3 signatures stay valid.
type remoteCounter struct {
	url      string // http://127.0.0.1:PORT
	requests atomic.Int64
	bytes    atomic.Int64
	mu       sync.Mutex
	log      []string // METHOD PATH RANGE STATUS, one per request
}

// remoteCountStart starts a counting proxy to target, closed when t ends.
func remoteCountStart(t *testing.T, target string) *remoteCounter {
	t.Helper()
	return remoteTamperStart(t, target, nil)
}

// remoteTamperStart is remoteCountStart with tamper, unless nil, changing
// each answer of target after it was counted (a fault of the server's).
func remoteTamperStart(t *testing.T, target string, tamper func(*http.Response)) *remoteCounter {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	c := &remoteCounter{}
	proxy := httputil.NewSingleHostReverseProxy(u)
	proxy.ModifyResponse = func(resp *http.Response) error {
		c.requests.Add(1)
		c.mu.Lock()
		c.log = append(c.log, resp.Request.Method+" "+resp.Request.URL.Path+" "+resp.Request.Header.Get("Range")+" "+strconv.Itoa(resp.StatusCode))
		c.mu.Unlock()
		if tamper != nil {
			tamper(resp)
		}
		resp.Body = &remoteCountingBody{ReadCloser: resp.Body, n: &c.bytes}
		return nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: proxy}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	c.url = "http://" + l.Addr().String()
	return c
}

// reset zeroes the counts.
func (c *remoteCounter) reset() {
	c.requests.Store(0)
	c.bytes.Store(0)
	c.mu.Lock()
	c.log = nil
	c.mu.Unlock()
}

// requestLog is the requests forwarded since the last reset, one a line.
func (c *remoteCounter) requestLog() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b bytes.Buffer
	for _, l := range c.log {
		b.WriteString("  " + l + "\n")
	}
	return b.String()
}

type remoteCountingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *remoteCountingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// remoteCutter is a TCP proxy in front of a server that closes each
// connection once it has passed every bytes of the server's answers.
type remoteCutter struct {
	addr string
	cuts atomic.Int64
}

// remoteCutStart starts a cutting proxy to the HOST:PORT target, closed when t ends.
func remoteCutStart(t *testing.T, target string, every int64) *remoteCutter {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &remoteCutter{addr: l.Addr().String()}
	var (
		conns sync.WaitGroup
		mu    sync.Mutex
		open  []net.Conn
	)
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range open {
			c.Close() // idle keep-alive connections, which nginx keeps for 75 s
		}
		mu.Unlock()
		conns.Wait()
	})
	go func() {
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			open = append(open, in)
			mu.Unlock()
			conns.Add(1)
			go func() {
				defer conns.Done()
				defer in.Close()
				out, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer out.Close()
				go io.Copy(out, in)
				if n, _ := io.CopyN(in, out, every); n == every {
					c.cuts.Add(1)
				}
			}()
		}
	}()
	return c
}

// remoteInsecureTLS is the TLS configuration of the tests' own readiness
// polls of HTTPS servers, whose certificates they made.
func remoteInsecureTLS() *tls.Config {
	return &tls.Config{InsecureSkipVerify: true}
}
