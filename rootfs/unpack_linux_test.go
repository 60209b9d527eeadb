package rootfs

import (
	"archive/tar"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ocitar/ocitar/internal/compression"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
)

// TestUnpackXattrs: the extended attributes of regular files and directories
// are set, those outside the user namespace only with Chown as root, never
// overlayfs's own or SELinux labels, and file capabilities survive the owner
// being set.
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
	layers := []ocispec.Descriptor{blobs.add(t, compression.Gzip, layerTar(t,
		withXattrs(dirEntry("etc/", 0o755), map[string]string{"user.dir": "d"}),
		dirEntry("bin/", 0o755),
		withXattrs(ping, map[string]string{"security.capability": capNetRaw, "user.mime": "application/x-executable", "trusted.note": "t",
			"trusted.overlay.opaque": "y", "user.overlay.origin": "o", "security.selinux": "system_u:object_r:bin_t:s0"}),
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
				for _, name := range []string{"user.dir", "user.mime", "security.capability", "trusted.note", "trusted.overlay.opaque", "user.overlay.origin", "security.selinux"} {
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

// TestUnpackXattrFailures: an attribute the kernel cannot store fails the
// unpack with an error that names it, shortened, and its size; refusals for
// want of support or privilege are passed over.
func TestUnpackXattrFailures(t *testing.T) {
	long := "user." + strings.Repeat("n", 300)
	tests := []struct {
		name  string
		attrs map[string]string
		want  []string // in the error
	}{
		{"a name longer than the kernel takes", map[string]string{long: "v"}, []string{`extended attribute "user.nnn`, `..." (1 bytes)`, "numerical result out of range"}},
		{"a value larger than the kernel takes", map[string]string{"user.big": strings.Repeat("v", 70000)}, []string{`extended attribute "user.big" (70000 bytes)`, "argument list too long"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := regEntry("f", 0o644, "x")
			f.hdr.Format, f.hdr.PAXRecords = tar.FormatPAX, map[string]string{}
			for name, value := range tt.attrs {
				f.hdr.PAXRecords[xattrPrefix+name] = value
			}
			err := unpackLayers(t, filepath.Join(t.TempDir(), "rootfs"), []layerEntry{f})
			for _, want := range tt.want {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("got %v; want an error containing %q", err, want)
				}
			}
			if err != nil && strings.Contains(err.Error(), long) {
				t.Error("the error holds the whole long name")
			}
		})
	}
	for _, tt := range []struct {
		err     error
		refused bool
	}{
		{unix.ENOTSUP, true},
		{unix.EPERM, true},
		{unix.E2BIG, false},
		{unix.ENOSPC, false},
		{unix.ERANGE, false},
	} {
		if got := xattrRefused(tt.err); got != tt.refused {
			t.Errorf("xattrRefused(%v) = %v, want %v", tt.err, got, tt.refused)
		}
	}
}

// TestUnpackXattrWarnings: root in a user namespace may not set trusted.*
// attributes; Unpack passes them over, tells Warn with their names quoted, and
// sets the others. The test runs itself again in a user namespace, as its root.
func TestUnpackXattrWarnings(t *testing.T) {
	if os.Getenv("OCITAR_TEST_IN_USERNS") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), "OCITAR_TEST_IN_USERNS=1")
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Cloneflags:  syscall.CLONE_NEWUSER,
			UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}},
			GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}},
		}
		out, err := cmd.CombinedOutput()
		t.Logf("in a user namespace:\n%s", out)
		if err != nil || !strings.Contains(string(out), "--- PASS: "+t.Name()) {
			t.Fatalf("in a user namespace: %v", err)
		}
		return
	}
	f := regEntry("f", 0o644, "x")
	f.hdr.Format = tar.FormatPAX
	f.hdr.PAXRecords = map[string]string{xattrPrefix + "trusted.note": "t", xattrPrefix + "trusted.x\nocitar: forged": "t", xattrPrefix + "user.mime": "text/plain"}
	blobs := memBlobs{}
	layers := []ocispec.Descriptor{blobs.add(t, compression.Gzip, layerTar(t, f))}
	dir := filepath.Join(t.TempDir(), "rootfs")
	var warnings []error
	opts := UnpackOptions{Chown: true, Warn: func(err error) { warnings = append(warnings, err) }}
	if err := Unpack(context.Background(), blobs, layers, dir, opts); err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 2 || !strings.Contains(warnings[0].Error(), `"trusted.note"`) || !strings.Contains(warnings[1].Error(), `"trusted.x\nocitar: forged"`) {
		t.Errorf("warnings %q; want two, of trusted.note and trusted.x..., quoted", warnings)
	}
	for _, w := range warnings {
		if !errors.Is(w, unix.EPERM) || strings.Contains(w.Error(), "\n") {
			t.Errorf("warning %q: want EPERM on one line", w)
		}
	}
	if got, err := getXattr(filepath.Join(dir, "f"), "user.mime"); got != "text/plain" {
		t.Errorf("user.mime is %q, %v; want it set", got, err)
	}
}
