package main

import (
	"regexp"
	"runtime/debug"
	"testing"
)

func TestFormatVersion(t *testing.T) {
	image := &debug.Module{Path: imageModule, Version: "v5.42.1"}
	revision := debug.BuildSetting{Key: "vcs.revision", Value: "64daea5c0ffee"}
	tests := []struct {
		name string
		info *debug.BuildInfo
		want string
	}{
		{"tagged", &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}, Deps: []*debug.Module{image}, Settings: []debug.BuildSetting{revision}},
			"ocitar version v1.2.3\ncontainers/image version v5.42.1\n"},
		{"checkout", &debug.BuildInfo{Main: debug.Module{Version: develVersion}, Deps: []*debug.Module{image},
			Settings: []debug.BuildSetting{revision, {Key: "vcs.modified", Value: "false"}}},
			"ocitar version 64daea5c0ffee\ncontainers/image version v5.42.1\n"},
		{"dirty checkout", &debug.BuildInfo{Main: debug.Module{Version: develVersion}, Deps: []*debug.Module{image},
			Settings: []debug.BuildSetting{revision, {Key: "vcs.modified", Value: "true"}}},
			"ocitar version 64daea5c0ffee-dirty\ncontainers/image version v5.42.1\n"},
		{"pseudo-version of a dirty checkout", &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261129200045-64daea5c0ffe+dirty"}, Deps: []*debug.Module{image},
			Settings: []debug.BuildSetting{revision, {Key: "vcs.modified", Value: "true"}}},
			"ocitar version 64daea5c0ffee-dirty\ncontainers/image version v5.42.1\n"},
		{"no VCS information", &debug.BuildInfo{Main: debug.Module{Version: develVersion}, Deps: []*debug.Module{image}},
			"ocitar version (devel)\ncontainers/image version v5.42.1\n"},
		{"replaced containers/image", &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"},
			Deps: []*debug.Module{{Path: imageModule, Version: "v5.42.1", Replace: &debug.Module{Path: "../image"}}}},
			"ocitar version v1.2.3\ncontainers/image version ../image (replacing v5.42.1)\n"},
		{"no build information", nil, "ocitar version (devel)\ncontainers/image version unknown\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := formatVersion(tt.info); got != tt.want {
				t.Errorf("formatVersion = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestVersion runs `ocitar --version` and `ocitar version`, with no other
// argument: both print the two versions of this test binary's build, whose
// containers/image is the one go.mod pins.
func TestVersion(t *testing.T) {
	want := regexp.MustCompile(`\Aocitar version \S+\ncontainers/image version v5\.42\.1\n\z`)
	for _, args := range [][]string{{"--version"}, {"version"}} {
		status, stdout, stderr := ocitar(t, args...)
		if status != 0 || stderr != "" || !want.MatchString(stdout) {
			t.Errorf("ocitar %s: exit %d, stdout %q, stderr %q; want exit 0 and stdout matching %s", args[0], status, stdout, stderr, want)
		}
	}
	if status, _, stderr := ocitar(t, "version", "extra"); status != 1 || stderr == "" {
		t.Errorf("ocitar version extra: exit %d, stderr %q; want exit 1 and an error", status, stderr)
	}
}
