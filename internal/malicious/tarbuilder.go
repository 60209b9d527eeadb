package malicious

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// tarFile is an archive under construction: headers in order, each with its data.
type tarFile struct {
	entries []tarEntry
}

type tarEntry struct {
	hdr  tar.Header
	body []byte
}

func (a *tarFile) add(hdr tar.Header, body []byte) {
	hdr.Mode = 0o644
	hdr.ModTime = time.Unix(0, 0)
	if hdr.Format == tar.FormatUnknown {
		hdr.Format = tar.FormatPAX
	}
	if hdr.Typeflag == tar.TypeReg {
		hdr.Size = int64(len(body))
	}
	a.entries = append(a.entries, tarEntry{hdr, body})
}

func (a *tarFile) file(name string, body []byte) {
	a.add(tar.Header{Name: name, Typeflag: tar.TypeReg}, body)
}

func (a *tarFile) link(name, target string, typ byte) {
	a.add(tar.Header{Name: name, Linkname: target, Typeflag: typ}, nil)
}

// blob stores body under blobs/sha256/ and returns its descriptor.
func (a *tarFile) blob(mediaType string, body []byte) descriptor {
	d := descriptor{MediaType: mediaType, Digest: sha256Digest(body), Size: int64(len(body))}
	a.file(blobPath(d.Digest), body)
	return d
}

func (a *tarFile) jsonBlob(mediaType string, v any) descriptor {
	return a.blob(mediaType, mustJSON(v))
}

// replace swaps the data of the entry name.
func (a *tarFile) replace(name string, body []byte) {
	for i := range a.entries {
		if a.entries[i].hdr.Name == name {
			a.entries[i].body = body
			a.entries[i].hdr.Size = int64(len(body))
			return
		}
	}
	panic("no entry " + name)
}

// remove drops the entry name.
func (a *tarFile) remove(name string) {
	for i := range a.entries {
		if a.entries[i].hdr.Name == name {
			a.entries = append(a.entries[:i], a.entries[i+1:]...)
			return
		}
	}
	panic("no entry " + name)
}

func (a *tarFile) bytes() ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range a.entries {
		if err := tw.WriteHeader(&e.hdr); err != nil {
			return nil, fmt.Errorf("%s: %w", e.hdr.Name, err)
		}
		if _, err := tw.Write(e.body); err != nil {
			return nil, fmt.Errorf("%s: %w", e.hdr.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func sha256Digest(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func blobPath(digest string) string {
	return "blobs/sha256/" + digest[len("sha256:"):]
}

func mustJSON(v any) []byte {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return data
}

// setHeaderField overwrites a field of the ustar header block at off and
// recomputes the block's checksum.
func setHeaderField(data []byte, off, field int, value []byte) {
	block := data[off : off+512]
	copy(block[field:], value)
	copy(block[148:156], "        ")
	sum := 0
	for _, b := range block {
		sum += int(b)
	}
	copy(block[148:156], fmt.Sprintf("%06o\x00 ", sum))
}

// base256 is n in a 12-byte numeric field in GNU base-256 encoding.
func base256(n int64) []byte {
	field := make([]byte, 12)
	for i := 11; i > 0; i-- {
		field[i] = byte(n)
		n >>= 8
	}
	field[0] = 0x80 | byte(n)&0x7f
	if n < 0 {
		field[0] = 0xff
	}
	return field
}

// octal is n in a 12-byte numeric field.
func octal(n int64) []byte {
	return []byte(fmt.Sprintf("%011s\x00", strconv.FormatInt(n, 8)))
}
