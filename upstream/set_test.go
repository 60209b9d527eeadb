package upstream

import (
	"strings"
	"testing"
)

func TestSetRoute(t *testing.T) {
	unnamed := newFakeServer(t, nil)
	named := newFakeServer(t, nil)
	both := newTestSet(t, Options{}, unnamed.URL, "example.com="+named.URL, "docker.io="+named.URL+"/hub")
	namedOnly := newTestSet(t, Options{}, "example.com="+named.URL)
	tests := []struct {
		set      *Set
		ns, name string
		want     string // Name(); "" when not routed
		upstream string // the URL of the manifest "latest"
	}{
		{both, "", "team/app", "team/app", unnamed.URL + "/v2/team/app/manifests/latest"},
		{both, "", "example.com/team/app", "example.com/team/app", named.URL + "/v2/team/app/manifests/latest"},
		{both, "example.com", "team/app", "example.com/team/app", named.URL + "/v2/team/app/manifests/latest"},
		{both, "Example.COM", "team/app", "example.com/team/app", named.URL + "/v2/team/app/manifests/latest"},
		{both, "registry-1.docker.io", "library/alpine", "docker.io/library/alpine", named.URL + "/v2/hub/library/alpine/manifests/latest"},
		{both, "", "docker.io/library/alpine", "docker.io/library/alpine", named.URL + "/v2/hub/library/alpine/manifests/latest"},
		{both, "quay.io", "team/app", "", ""},
		{both, "", "quay.io/team/app", "quay.io/team/app", unnamed.URL + "/v2/quay.io/team/app/manifests/latest"},
		{namedOnly, "", "team/app", "", ""},
		{namedOnly, "quay.io", "team/app", "", ""},
		{namedOnly, "", "example.com/app", "example.com/app", named.URL + "/v2/app/manifests/latest"},
	}
	for _, tt := range tests {
		t.Run(tt.ns+"_"+tt.name, func(t *testing.T) {
			repo, ok := tt.set.Route(tt.ns, tt.name)
			if tt.want == "" {
				if ok {
					t.Fatalf("Route = %s; want none", repo.Name())
				}
				return
			}
			if !ok || repo.Name() != tt.want {
				t.Fatalf("Route = %v, %v; want %s", repo, ok, tt.want)
			}
			if got := repo.client.url(repo.path, "manifests/latest", nil).String(); got != tt.upstream {
				t.Errorf("the manifest's URL is %s; want %s", got, tt.upstream)
			}
		})
	}
	if seen := len(unnamed.requests("")) + len(named.requests("")); seen != 0 {
		t.Errorf("routing made %d requests", seen)
	}
}

func TestNewSet(t *testing.T) {
	tests := []struct {
		specs []string
		err   string
	}{
		{[]string{"http://a", "example.com=http://b", "docker.io=http://c"}, ""},
		{[]string{"http://a", "http://b"}, "a second upstream without a registry name"},
		{[]string{"docker.io=http://a", "index.docker.io=http://b"}, "a second upstream for registry docker.io"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.specs, ","), func(t *testing.T) {
			var specs []Spec
			for _, s := range tt.specs {
				spec, err := ParseSpec(s)
				if err != nil {
					t.Fatal(err)
				}
				specs = append(specs, spec)
			}
			_, err := NewSet(specs, Options{Cache: newTestSet(t, Options{}).cache})
			if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Errorf("NewSet: %v; want %q", err, tt.err)
			}
		})
	}
}
