package main

import (
	"io"
	"log"
	"net/http"
	"time"
)

// accessLog logs a line per request: method, path, status, bytes sent and
// duration. Credentials are never logged.
type accessLog struct {
	next http.Handler
	log  *log.Logger
}

func (a accessLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	started := time.Now()
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	defer func() {
		outcome := ""
		p := recover()
		if p != nil {
			outcome = " aborted"
		}
		if r.Method == http.MethodHead {
			rec.bytes = 0
		}
		a.log.Printf("%s %s %d %d %s%s", r.Method, r.URL.RequestURI(), rec.status, rec.bytes, time.Since(started).Round(time.Microsecond), outcome)
		if p != nil {
			panic(p)
		}
	}()
	a.next.ServeHTTP(rec, r)
}

// recorder notes the status and the bytes of a response. It passes ReadFrom
// through to net/http's writer.
type recorder struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
	bytes       int64
}

func (rec *recorder) WriteHeader(status int) {
	if !rec.wroteHeader {
		rec.status, rec.wroteHeader = status, true
	}
	rec.ResponseWriter.WriteHeader(status)
}

func (rec *recorder) Write(p []byte) (int, error) {
	rec.wroteHeader = true
	n, err := rec.ResponseWriter.Write(p)
	rec.bytes += int64(n)
	return n, err
}

func (rec *recorder) ReadFrom(src io.Reader) (int64, error) {
	rec.wroteHeader = true
	n, err := io.Copy(rec.ResponseWriter, src)
	rec.bytes += n
	return n, err
}

func (rec *recorder) Unwrap() http.ResponseWriter { return rec.ResponseWriter }
