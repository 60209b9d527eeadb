package remote

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestOpenTLS(t *testing.T) {
	data := pattern(100<<10, 20)
	srv := newObjectServer(t, data, true)
	plain := newObjectServer(t, data, false)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	otherPool := x509.NewCertPool()
	otherPool.AddCert(selfSigned(t))
	client := func(cfg *tls.Config) *http.Client {
		return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
	}
	tests := []struct {
		name   string
		url    string
		client *http.Client
		kind   error
	}{
		{"verified by the system", srv.URL, nil, ErrTLS},
		{"a CA pool with the certificate", srv.URL, client(&tls.Config{RootCAs: pool}), nil},
		{"a CA pool without it", srv.URL, client(&tls.Config{RootCAs: otherPool}), ErrTLS},
		{"another server name", strings.Replace(srv.URL, "127.0.0.1", "localhost", 1), client(&tls.Config{RootCAs: pool}), ErrTLS},
		{"verification off", srv.URL, client(&tls.Config{InsecureSkipVerify: true}), nil},
		{"https to a server of plain http", strings.Replace(plain.URL, "http:", "https:", 1), client(&tls.Config{RootCAs: pool}), ErrTLS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &waits{}
			url := tt.url + "/a.tar?X-Amz-Signature=" + testSignature
			src, err := Open(context.Background(), url, Options{Client: tt.client, Window: 64 << 10, Sleep: w.sleep})
			if tt.kind == nil {
				if err != nil {
					t.Fatal(seen(err))
				}
				if got := readAll(t, io.NewSectionReader(src, 0, src.Size())); !bytes.Equal(got, data) {
					t.Error("other bytes")
				}
				return
			}
			if !errors.Is(seen(err), tt.kind) {
				t.Fatalf("Open: %v, want %v", err, tt.kind)
			}
			if want := tt.url + "/a.tar: TLS handshake failed: "; !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q, want one line starting with %q", err, want)
			}
			if len(w.all()) != 0 {
				t.Errorf("a TLS failure was tried again %d times", len(w.all()))
			}
		})
	}
}

// selfSigned is a CA certificate for 127.0.0.1 that no server here uses.
func selfSigned(t *testing.T) *x509.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "other CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}
