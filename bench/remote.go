package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ocitar/ocitar/internal/testcert"
)

// The remote rows of issue 20: the main OCI tar on nginx over HTTPS, served
// in place by `ocitar serve https://...` with an empty --cache-dir (cold)
// and with the one the cold row left (warm), beside `ocitar serve FILE` of
// the local file and today's way: downloading the whole archive with curl,
// then serving the file.

// remoteTitle names the remote rows in the report and for -only.
const remoteTitle = "remote archives"

// nginx is Debian's nginx-light, which the integration tests start too.
const nginx = "/usr/sbin/nginx"

// Names of the rows in the report.
const (
	remoteLocal    = "ocitar serve FILE (local file)"
	remoteCold     = "ocitar serve https://HOST/FILE, cold"
	remoteWarm     = "ocitar serve https://HOST/FILE, warm"
	remoteDownload = "curl -o FILE https://HOST/FILE, then ocitar serve FILE"
)

// remoteRow is one way of serving the archive, every run of it.
type remoteRow struct {
	name    string
	samples []remoteSample
}

// remoteSample is one run of a row.
type remoteSample struct {
	serve      serveSample
	cache      int64 // peak bytes under --cache-dir
	downloaded int64 // peak bytes of the downloaded archive
	nginx      nginxUse
}

// remoteResult is every run of every row.
type remoteResult struct {
	size  int64 // of the archive
	bytes int64 // of one pull: manifest, config and layers
	rows  []*remoteRow
}

// remoteWay is how a row gets its server: keep keeps --cache-dir as the
// row before left it; start starts the server with ocitar, the binary and
// its global flags, into the run's download directory.
type remoteWay struct {
	name  string
	keep  bool
	start func(ocitar []string, download string) (*serveServer, error)
}

// measureRemote serves the main OCI tar from nginx and runs every row in
// turn, as many times as the serve rows: the warm row right after the cold
// one, whose --cache-dir it keeps.
func measureRemote(c config, co corpus) (remoteResult, error) {
	res := remoteResult{}
	st, err := os.Stat(co.large.oci)
	if err != nil {
		return res, err
	}
	res.size = st.Size()
	dir := filepath.Join(c.work, "remote")
	if err := os.RemoveAll(dir); err != nil {
		return res, err
	}
	ng, err := nginxStart(filepath.Join(dir, "nginx"), filepath.Dir(co.large.oci))
	if err != nil {
		return res, fmt.Errorf("starting nginx: %w", err)
	}
	defer ng.stop()
	url := ng.url + "/" + filepath.Base(co.large.oci)
	fromURL := func(ocitar []string, _ string) (*serveServer, error) {
		return serveStartOcitar(ocitar, "--cert-dir", ng.certDir, url)
	}
	ways := []remoteWay{
		{remoteLocal, false, func(ocitar []string, _ string) (*serveServer, error) { return serveStartOcitar(ocitar, co.large.oci) }},
		{remoteCold, false, fromURL},
		{remoteWarm, true, fromURL},
		{remoteDownload, false, func(ocitar []string, download string) (*serveServer, error) {
			file := filepath.Join(download, filepath.Base(co.large.oci))
			curl := exec.Command("curl", "-fsS", "--cacert", ng.cert, "-o", file, url)
			if out, err := curl.CombinedOutput(); err != nil {
				return nil, fmt.Errorf("%s: %w: %s", strings.Join(curl.Args, " "), err, strings.TrimSpace(string(out)))
			}
			return serveStartOcitar(ocitar, file)
		}},
	}
	for _, w := range ways {
		res.rows = append(res.rows, &remoteRow{name: w.name})
	}
	g := &rig{ocitar: c.ocitar, work: c.work, cache: filepath.Join(dir, "cache")}
	defer g.remove()
	download := filepath.Join(dir, "download")
	for range servingRuns(c) {
		for i, w := range ways {
			s, n, err := g.measureWay(w, ng, download)
			if err != nil {
				return res, fmt.Errorf("%s: %w", w.name, err)
			}
			res.bytes = n
			res.rows[i].samples = append(res.rows[i].samples, s)
		}
	}
	return res, nil
}

// measureWay runs serveRun on the server of w, sampling --cache-dir and
// the download directory, which it empties before and after, and counts
// what nginx sent meanwhile.
func (g *rig) measureWay(w remoteWay, ng *nginxServer, download string) (remoteSample, int64, error) {
	var s remoteSample
	if err := g.reset(w.keep); err != nil {
		return s, 0, err
	}
	if err := os.RemoveAll(download); err != nil {
		return s, 0, err
	}
	if err := os.MkdirAll(download, 0o755); err != nil {
		return s, 0, err
	}
	defer os.RemoveAll(download)
	logged, err := fileSize(ng.access)
	if err != nil {
		return s, 0, err
	}
	ocitar := g.binary(openInPlace)
	peaks := samplePeaks(g.tmp.every(), g.cacheUsed, func() int64 { return dirSize(download) })
	serve, n, err := serveRun(func() (*serveServer, error) { return w.start(ocitar, download) }, largeName)
	p := peaks.stop()
	if err != nil {
		return s, 0, err
	}
	s.serve, s.cache, s.downloaded = serve, p[0], p[1]
	s.nginx, err = ng.used(logged)
	return s, n, err
}

func fileSize(path string) (int64, error) {
	st, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// nginxServer is an nginx of the harness's own serving the files of a
// directory over HTTPS, with its configuration, certificate, pid and logs
// in a directory removed when it stops.
type nginxServer struct {
	*serveServer
	url     string // https://127.0.0.1:PORT
	cert    string // its certificate, which is its own CA
	certDir string // a --cert-dir trusting it
	access  string // its access log: one line per request, readyPath's left out
}

// readyPath is where nginx answers 200 once it serves.
const readyPath = "/ready"

// nginxStart starts nginx on a free port of 127.0.0.1 serving root over
// HTTPS, unprivileged but for its user (root reads the corpus, whose files
// are the owner's only), its files in dir, and waits until it answers.
func nginxStart(dir, root string) (*nginxServer, error) {
	n := &nginxServer{certDir: filepath.Join(dir, "certs"), access: filepath.Join(dir, "access.log")}
	if err := os.MkdirAll(n.certDir, 0o755); err != nil {
		return nil, err
	}
	cert, key, err := testcert.Write(dir)
	if err != nil {
		return nil, err
	}
	n.cert = cert
	if err := os.Symlink(cert, filepath.Join(n.certDir, "ca.crt")); err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	n.url = "https://" + addr
	conf := fmt.Sprintf(`daemon off;
master_process off;
user root;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events { worker_connections 256; }
http {
	log_format counting '$uri $body_bytes_sent';
	client_body_temp_path %[1]s/client_body;
	proxy_temp_path %[1]s/proxy;
	fastcgi_temp_path %[1]s/fastcgi;
	uwsgi_temp_path %[1]s/uwsgi;
	scgi_temp_path %[1]s/scgi;
	default_type application/octet-stream;
	server {
		listen %[2]s ssl;
		ssl_certificate %[3]s;
		ssl_certificate_key %[4]s;
		root %[5]s;
		access_log %[6]s counting;
		location = %[7]s { access_log off; return 200; }
	}
}
`, dir, addr, cert, key, root, n.access, readyPath)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(n.access, nil, 0o644); err != nil {
		return nil, err
	}
	if n.serveServer, err = serveLaunch(exec.Command(nginx, "-p", dir, "-c", path, "-e", filepath.Join(dir, "error.log"))); err != nil {
		return nil, err
	}
	n.serveServer.dir = dir
	tlsConf, err := trusting(cert)
	if err != nil {
		n.stop()
		return nil, err
	}
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{TLSClientConfig: tlsConf}}
	if err := n.waitHTTP(client, n.url+readyPath); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
		n.stop()
		return nil, fmt.Errorf("%w: %s", err, strings.TrimSpace(string(log)))
	}
	return n, nil
}

// trusting is a TLS configuration whose only CA is the PEM certificate at path.
func trusting(path string) (*tls.Config, error) {
	cert, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(cert) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return &tls.Config{RootCAs: pool}, nil
}

// nginxUse is what nginx sent: requests answered and their body bytes.
type nginxUse struct {
	requests int
	bytes    int64
}

// used is what the access log says nginx sent since it was from bytes long.
func (n *nginxServer) used(from int64) (nginxUse, error) {
	var u nginxUse
	f, err := os.Open(n.access)
	if err != nil {
		return u, err
	}
	defer f.Close()
	if _, err := f.Seek(from, 0); err != nil {
		return u, err
	}
	lines := bufio.NewScanner(f)
	for lines.Scan() {
		line := lines.Text()
		b, err := strconv.ParseInt(line[strings.LastIndexByte(line, ' ')+1:], 10, 64)
		if err != nil {
			return u, fmt.Errorf("%s: %q: %w", n.access, line, err)
		}
		u.requests++
		u.bytes += b
	}
	return u, lines.Err()
}
