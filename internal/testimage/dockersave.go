package testimage

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
)

// dockerManifestItem is one item of a docker-save manifest.json.
type dockerManifestItem struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// legacyLayerJSON is the minimal per-layer "json" file of a legacy docker-save archive.
type legacyLayerJSON struct {
	ID      string `json:"id"`
	Parent  string `json:"parent,omitempty"`
	Created string `json:"created"`
}

// WriteDockerSave writes images to w as a legacy docker-save archive, as docker before 25
// wrote it. For each image, in order: each layer not written yet as "<id>/",
// "<id>/VERSION", "<id>/json" and "<id>/layer.tar" (uncompressed), then
// "<confighex>.json" if not written yet; after all images, "manifest.json" (one item
// per image) and "repositories". Layer ids chain like docker's chain ids:
// id(n) = sha256(id(n-1) + " " + diffID(n)), with id(-1) = "", so an id is never
// the layer's diff id, and a layer shared by two images is stored once.
// Every image must have a name with a tag, or no name at all (it then has no RepoTags).
func WriteDockerSave(w io.Writer, images ...Image) error {
	if len(images) == 0 {
		return errors.New("testimage: no images to write")
	}
	tw := tar.NewWriter(w)
	written := map[string]bool{}
	var manifest []dockerManifestItem
	repositories := map[string]map[string]string{}
	for _, img := range images {
		item := dockerManifestItem{Config: hex.EncodeToString(sha(img.Config)) + ".json"}
		parent := ""
		for _, layer := range img.Layers {
			id := hex.EncodeToString(sha([]byte(parent + " " + digest.FromBytes(layer).String())))
			item.Layers = append(item.Layers, id+"/layer.tar")
			if !written[id] {
				written[id] = true
				created := Created.Format(time.RFC3339)
				files := []struct {
					name string
					body []byte
				}{
					{id + "/", nil},
					{id + "/VERSION", []byte("1.0")},
					{id + "/json", mustJSON(legacyLayerJSON{ID: id, Parent: parent, Created: created})},
					{id + "/layer.tar", layer},
				}
				for _, f := range files {
					if err := writeEntry(tw, f.name, f.body); err != nil {
						return err
					}
				}
			}
			parent = id
		}
		if !written[item.Config] {
			written[item.Config] = true
			if err := writeEntry(tw, item.Config, img.Config); err != nil {
				return err
			}
		}
		if img.Name != "" {
			repo, tag, ok := splitTag(img.Name)
			if !ok {
				return fmt.Errorf("testimage: image name %q has no tag", img.Name)
			}
			item.RepoTags = []string{img.Name}
			if repositories[repo] == nil {
				repositories[repo] = map[string]string{}
			}
			repositories[repo][tag] = parent
		}
		manifest = append(manifest, item)
	}
	if err := writeEntry(tw, "manifest.json", mustJSON(manifest)); err != nil {
		return err
	}
	if err := writeEntry(tw, "repositories", mustJSON(repositories)); err != nil {
		return err
	}
	return tw.Close()
}

// splitTag splits "host/repo:tag" into "host/repo" and "tag"; a colon before the
// last slash belongs to a registry port, not a tag.
func splitTag(name string) (repo, tag string, ok bool) {
	i := strings.LastIndexByte(name, ':')
	if i < 0 || strings.Contains(name[i:], "/") || strings.Contains(name, "@") {
		return "", "", false
	}
	return name[:i], name[i+1:], true
}

func sha(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}
