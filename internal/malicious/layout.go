package malicious

import "strings"

const (
	mediaTypeIndex    = "application/vnd.oci.image.index.v1+json"
	mediaTypeManifest = "application/vnd.oci.image.manifest.v1+json"
	mediaTypeConfig   = "application/vnd.oci.image.config.v1+json"
	mediaTypeLayer    = "application/vnd.oci.image.layer.v1.tar"
)

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

type manifest struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	Config        descriptor        `json:"config"`
	Layers        []descriptor      `json:"layers"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

type index struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Manifests     []descriptor `json:"manifests"`
}

type config struct {
	Architecture string            `json:"architecture"`
	OS           string            `json:"os"`
	Labels       map[string]string `json:"labels,omitempty"`
	RootFS       struct {
		Type    string   `json:"type"`
		DiffIDs []string `json:"diff_ids"`
	} `json:"rootfs"`
}

// layout is a valid one-image OCI layout and the descriptors of its parts.
type layout struct {
	tarFile
	layer, config, manifest descriptor
}

// layerTar is a layer holding one small file.
func layerTar() []byte {
	var a tarFile
	a.file("hello.txt", []byte("hello from the malicious corpus\n"))
	data, err := a.bytes()
	if err != nil {
		panic(err)
	}
	return data
}

func newConfig(diffID string, padding int) config {
	var c config
	c.Architecture, c.OS = "amd64", "linux"
	c.RootFS.Type, c.RootFS.DiffIDs = "layers", []string{diffID}
	if padding > 0 {
		c.Labels = map[string]string{"padding": strings.Repeat("x", padding)}
	}
	return c
}

// newLayout is the valid image every OCI case starts from; configPadding and
// manifestPadding grow the config and the manifest by that many bytes.
func newLayout(configPadding, manifestPadding int) *layout {
	l := &layout{}
	l.file("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`))
	l.layer = l.blob(mediaTypeLayer, layerTar())
	l.config = l.jsonBlob(mediaTypeConfig, newConfig(l.layer.Digest, configPadding))
	m := manifest{SchemaVersion: 2, MediaType: mediaTypeManifest, Config: l.config, Layers: []descriptor{l.layer}}
	if manifestPadding > 0 {
		m.Annotations = map[string]string{"padding": strings.Repeat("x", manifestPadding)}
	}
	l.manifest = l.jsonBlob(mediaTypeManifest, m)
	named := l.manifest
	named.Annotations = map[string]string{"org.opencontainers.image.ref.name": "example.com/malicious:1"}
	l.file("index.json", indexJSON(named))
	return l
}

func indexJSON(manifests ...descriptor) []byte {
	return mustJSON(index{SchemaVersion: 2, MediaType: mediaTypeIndex, Manifests: manifests})
}

// dockerSave is a valid one-image docker-save archive; extra adds entries
// before manifest.json.
func dockerSave(extra func(a *tarFile, configName string)) *tarFile {
	a := &tarFile{}
	layer := layerTar()
	diffID := sha256Digest(layer)
	cfg := mustJSON(newConfig(diffID, 0))
	configName := sha256Digest(cfg)[len("sha256:"):] + ".json"
	a.file("layer/layer.tar", layer)
	a.file(configName, cfg)
	if extra != nil {
		extra(a, configName)
	}
	a.file("manifest.json", mustJSON([]map[string]any{{
		"Config": configName, "RepoTags": []string{"example.com/malicious:1"}, "Layers": []string{"layer/layer.tar"},
	}}))
	return a
}

// valid is the base layout as an archive.
func valid() ([]byte, error) {
	return newLayout(0, 0).bytes()
}
