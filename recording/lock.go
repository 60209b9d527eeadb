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

// writeLockList writes the names of images to path atomically.
func writeLockList(path string, images []planned) error {
	l := lockList{Images: map[string]digest.Digest{}}
	for _, img := range images {
		if img.name != "" {
			l.Images[img.name] = img.digest
		}
	}
	data, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return err
	}
	f, err := pending.Create(path)
	if err != nil {
		return fmt.Errorf("recording: %w", err)
	}
	if _, err := f.Write(append(data, '\n')); err != nil {
		f.Abort()
		return fmt.Errorf("recording: writing %s: %w", path, err)
	}
	if err := f.Commit(); err != nil {
		return fmt.Errorf("recording: %w", err)
	}
	return nil
}
