package upstream

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"testing"

	"github.com/ocitar/ocitar/internal/errkind"
	digest "github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestRepositoryReferrers(t *testing.T) {
	const sbom, sig = "application/spdx+json", "application/vnd.dev.cosign.artifact.sig.v1+json"
	subject := testManifestDigest
	index := referrersIndex(t, sbom, sig)
	api := "/v2/app/referrers/" + subject.String()
	tag := "/v2/app/manifests/sha256-" + subject.Encoded()
	tests := []struct {
		name         string
		routes       map[string]response
		artifactType string
		want         []string // the artifact types of the referrers
		asked        []string // the paths requested
	}{
		{"API", map[string]response{api: ok(index)}, "", []string{sbom, sig}, []string{api}},
		{"API filtered", map[string]response{api: ok(index)}, sig, []string{sig}, []string{api}},
		{"tag", map[string]response{tag: ok(index)}, "", []string{sbom, sig}, []string{api, tag}},
		{"tag filtered", map[string]response{tag: ok(index)}, sbom, []string{sbom}, []string{api, tag}},
		{"neither", nil, "", nil, []string{api, tag}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFakeServer(t, tt.routes)
			refs, err := route(t, newTestSet(t, Options{}, srv.URL), "", "app").Referrers(context.Background(), subject, tt.artifactType)
			if err != nil {
				t.Fatal(err)
			}
			if refs == nil {
				t.Error("Referrers = nil; want a list")
			}
			var types []string
			for _, r := range refs {
				types = append(types, r.ArtifactType)
			}
			if !slices.Equal(types, tt.want) {
				t.Errorf("Referrers = %q; want %q", types, tt.want)
			}
			var asked []string
			for _, s := range srv.requests("") {
				asked = append(asked, s.path)
			}
			if !slices.Equal(asked, tt.asked) {
				t.Errorf("the upstream saw %q; want %q", asked, tt.asked)
			}
			if q, _ := url.ParseQuery(srv.requests(api)[0].query); q.Get("artifactType") != tt.artifactType {
				t.Errorf("the referrers API was asked %q", q)
			}
		})
	}
}

func TestRepositoryReferrersInvalid(t *testing.T) {
	subject := testManifestDigest
	srv := newFakeServer(t, map[string]response{"/v2/app/referrers/" + subject.String(): ok([]byte(`{"manifests":[{"digest":"sha256:short"}]}`))})
	_, err := route(t, newTestSet(t, Options{}, srv.URL), "", "app").Referrers(context.Background(), subject, "")
	checkError(t, err, srv.URL+"/v2/app/referrers/"+subject.String(), errkind.ErrInvalidMetadata, ErrUnavailable)
}

// referrersIndex is an index of one referrer of each artifact type.
func referrersIndex(t *testing.T, artifactTypes ...string) []byte {
	t.Helper()
	index := ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex}
	for _, at := range artifactTypes {
		index.Manifests = append(index.Manifests, ocispec.Descriptor{
			MediaType: ocispec.MediaTypeImageManifest, ArtifactType: at, Digest: digest.FromString(at), Size: 1,
		})
	}
	data, err := json.Marshal(index)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
