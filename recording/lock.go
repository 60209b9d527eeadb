package recording

import (
	"encoding/json"
	"fmt"

	"github.com/ocitar/ocitar/internal/pending"
	digest "github.com/opencontainers/go-digest"
)

// lockList is the file beside a recording that says which digest each name
// of it stands for.
type lockList struct {
	Images map[string]digest.Digest `json:"images"`
}

// writeLockList writes the names of images to a temporary file beside path, for the caller to commit.
func writeLockList(path string, images []planned) (*pending.File, error) {
	l := lockList{Images: map[string]digest.Digest{}}
	for _, img := range images {
		if img.name != "" {
			l.Images[img.name] = img.digest
		}
	}
	data, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return nil, err
	}
	f, err := pending.Create(path)
	if err != nil {
		return nil, fmt.Errorf("recording: %w", err)
	}
	if _, err := f.Write(append(data, '\n')); err != nil {
		f.Abort()
		return nil, fmt.Errorf("recording: writing %s: %w", path, err)
	}
	return f, nil
}
