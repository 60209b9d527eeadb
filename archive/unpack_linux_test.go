package archive

import (
	"archive/tar"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
)

// TestUnpackXattrs: the extended attributes of regular files and directories
// are set, those outside the user namespace only with Chown as root, and file
// capabilities survive the owner being set.
func TestUnpackXattrs(t *testing.T) {
	// cap_net_raw=ep: VFS_CAP_REVISION_2 with the effective flag, permitted bit 13.
	capNetRaw := string([]byte{1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	withXattrs := func(e layerEntry, attrs map[string]string) layerEntry {
		e.hdr.PAXRecords = map[string]string{}
		for name, value := range attrs {
			e.hdr.PAXRecords[xattrPrefix+name] = value
		}
		e.hdr.Format = tar.FormatPAX
		return e
	}
	ping := regEntry("bin/ping", 0o755, "ping")
	ping.hdr.Uid, ping.hdr.Gid = 1000, 1000
	link := layerEntry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: "link", Linkname: "bin/ping", ModTime: entryTime}}
	blobs := memBlobs{}
	layers := []ocispec.Descriptor{blobs.add(t, gzipCompressed, layerTar(t,
		withXattrs(dirEntry("etc/", 0o755), map[string]string{"user.dir": "d"}),
		dirEntry("bin/", 0o755),
		withXattrs(ping, map[string]string{"security.capability": capNetRaw, "user.mime": "application/x-executable", "trusted.note": "t"}),
		withXattrs(link, map[string]string{"user.link": "no"}),
	))}
	user := map[string]map[string]string{
		"etc":      {"user.dir": "d"},
		"bin/ping": {"user.mime": "application/x-executable"},
	}
	all := map[string]map[string]string{
		"etc":      {"user.dir": "d"},
		"bin/ping": {"user.mime": "application/x-executable", "security.capability": capNetRaw, "trusted.note": "t"},
	}
	if os.Geteuid() != 0 {
		all = user
	}
	tests := []struct {
		name  string
		chown bool
		want  map[string]map[string]string
	}{
		{"without Chown", false, user},
		{"with Chown", true, all},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "rootfs")
			if err := Unpack(context.Background(), blobs, layers, dir, UnpackOptions{Chown: tt.chown}); err != nil {
				t.Fatal(err)
			}
			for _, file := range []string{"etc", "bin/ping"} {
				for _, name := range []string{"user.dir", "user.mime", "security.capability", "trusted.note"} {
					got, err := getXattr(filepath.Join(dir, file), name)
					want, wanted := tt.want[file][name]
					switch {
					case wanted && (err != nil || got != want):
						t.Errorf("%s: %s is %q, %v; want %q", file, name, got, err, want)
					case !wanted && !errors.Is(err, unix.ENODATA):
						t.Errorf("%s: %s is %q, %v; want none", file, name, got, err)
					}
				}
			}
			if _, err := unix.Lgetxattr(filepath.Join(dir, "link"), "user.link", make([]byte, 16)); err == nil {
				t.Error("the symlink has user.link")
			}
		})
	}
}

func getXattr(path, name string) (string, error) {
	buf := make([]byte, 256)
	n, err := unix.Lgetxattr(path, name, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}
