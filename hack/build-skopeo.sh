#!/usr/bin/env bash
# Builds a skopeo that speaks oci-tar: from a skopeo source tree (a git clone of
# containers/skopeo, or ../shared/peers/skopeo-src), never modifying that tree:
#
#   hack/build-skopeo.sh SKOPEO_SRC [OUT]      (make skopeo SKOPEO_SRC=DIR; OUT: bin/skopeo)
#
# It copies the tree to a temporary directory (without .git and vendor/), adds
# the blank import of github.com/ocitar/ocitar/transport to cmd/skopeo/main.go,
# requires and replaces github.com/ocitar/ocitar with this checkout, runs
# go mod tidy and builds in module mode with skopeo's tags. A build whose
# inputs (the tree, ocitar's Go files, go version, this script) are those of
# OUT's last build is skipped. Every failure is one line on stderr, exit 1;
# go's own output is kept in OUT.log.
set -euo pipefail

TAGS=containers_image_openpgp,exclude_graphdriver_btrfs,exclude_graphdriver_devicemapper
# The modules both skopeo and ocitar build on: a failed build names those whose versions differ.
CORE_MODULES="go.podman.io/image/v5 go.podman.io/storage go.podman.io/common"

me=build-skopeo
die() {
	echo "$me: $*" >&2
	exit 1
}

[ $# -ge 1 ] && [ $# -le 2 ] && [ -n "$1" ] || die "usage: hack/build-skopeo.sh SKOPEO_SRC [OUT] (make skopeo SKOPEO_SRC=DIR): SKOPEO_SRC is a skopeo source tree"
root=$(cd "$(dirname "$0")/.." && pwd)
src=$1
out=${2:-$root/bin/skopeo}
[ -d "$src" ] || die "$src is not a directory (SKOPEO_SRC must be a skopeo source tree)"
src=$(cd "$src" && pwd)
mkdir -p "$(dirname "$out")"
out=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")
log=$out.log
stamp=$(dirname "$out")/.$(basename "$out").stamp

# requirements FILE: "PATH VERSION" for every module the go.mod FILE requires.
requirements() {
	awk '/^require[ \t]*\(/ { block = 1; next }
		block && /^\)/ { block = 0; next }
		block && NF >= 2 && $1 !~ /^\/\// { print $1, $2; next }
		/^require[ \t]+[^( \t]/ { print $2, $3 }' "$1"
}

# version_of PATH: the version of PATH in the "PATH VERSION" lines of stdin.
version_of() { awk -v p="$1" '$1 == p { print $2; exit }'; }

# The tree must be skopeo's, built on the containers/image that ocitar registers with.
[ -f "$src/go.mod" ] || die "$src is not skopeo's source: it has no go.mod"
module=$(awk '$1 == "module" { print $2; exit }' "$src/go.mod")
case $module in
go.podman.io/skopeo | github.com/containers/skopeo) ;;
*) die "$src is not skopeo's source: its go.mod declares module ${module:-(none)}, not go.podman.io/skopeo" ;;
esac
main=cmd/skopeo/main.go
[ -f "$src/$main" ] || die "$src is not skopeo's source: it has no $main"
grep -q '^import ($' "$src/$main" || die "$src/$main has no import block to add github.com/ocitar/ocitar/transport to"
skopeo_reqs=$(requirements "$src/go.mod")
ocitar_reqs=$(requirements "$root/go.mod")
image_skopeo=$(version_of go.podman.io/image/v5 <<<"$skopeo_reqs")
image_ocitar=$(version_of go.podman.io/image/v5 <<<"$ocitar_reqs")
if [ -z "$image_skopeo" ]; then
	old=$(version_of github.com/containers/image/v5 <<<"$skopeo_reqs")
	[ -n "$old" ] || die "$src is not skopeo's source: its go.mod does not require go.podman.io/image/v5"
	die "$src builds on github.com/containers/image/v5 $old, and ocitar's oci-tar: registers with go.podman.io/image/v5 $image_ocitar: use a skopeo whose go.mod requires go.podman.io/image/v5 (module go.podman.io/skopeo)"
fi

# tree_hash DIR: the names, modes and contents under DIR, .git aside.
tree_hash() {
	tar -C "$1" --exclude=./.git --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf - . | sha256sum | cut -d' ' -f1
}

# ocitar_hash: ocitar's go.mod, go.sum and non-test Go files as they are in this checkout.
ocitar_hash() {
	(cd "$root" && find . \( -path ./.git -o -path ./bin -o -path ./out -o -path ./bench/work -o -path ./testdata \) -prune -o \
		-type f \( -name go.mod -o -name go.sum -o -name '*.go' \) ! -name '*_test.go' -print0 |
		LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
}

before=$(tree_hash "$src")
key="tree $before
ocitar $(ocitar_hash)
script $(sha256sum <"$0" | cut -d' ' -f1)
$(go version)
tags $TAGS"
if [ -x "$out" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$key" ]; then
	echo "$me: $out is up to date (same skopeo tree and ocitar sources as its last build)"
	exit 0
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ocitar-skopeo.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
work=$tmp/skopeo
mkdir "$work"
tar -C "$src" --exclude=./.git --exclude=./vendor -cf - . | tar -C "$work" -xf - --no-same-owner
chmod -R u+w "$work"

if ! grep -q '"github.com/ocitar/ocitar/transport"' "$work/$main"; then
	awk '!done && /^import \($/ { print; print "\t_ \"github.com/ocitar/ocitar/transport\" // oci-tar:, added by ocitar'"'"'s hack/build-skopeo.sh"; done = 1; next } { print }' \
		"$work/$main" >"$tmp/main.go"
	mv "$tmp/main.go" "$work/$main"
fi

# Module mode whatever the tree holds (vendor/ is left out of the copy), no
# workspace, and none of the caller's GOFLAGS (the Makefile's carry ocitar's tags).
export GOFLAGS="-mod=mod -buildvcs=false" GOWORK=off
: >"$log"
# gofail WHAT: fails with WHAT, the modules whose versions skopeo and ocitar
# disagree on (those both build on, then up to 3 that ocitar gets at another
# version than it requires), and the first line of go's error.
gofail() {
	local first selected path sv ov sel diff="" others=0
	first=$(awk '/^go: (downloading|finding|found|extracting) / || /^#/ { next }
		found && /^\t/ { sub(/^\t+/, " "); line = line $0; next }
		found { exit }
		{ found = 1; line = $0 }
		END { print line }' "$log")
	selected=$(cd "$work" && GOFLAGS=-mod=readonly go list -m -f '{{.Path}} {{.Version}}' all 2>/dev/null || true)
	while read -r path ov; do
		sv=$(version_of "$path" <<<"$skopeo_reqs")
		sel=$(version_of "$path" <<<"$selected")
		[ -n "$sv" ] && [ "$sv" != "$ov" ] || continue
		case " $CORE_MODULES " in
		*" $path "*) ;;
		*)
			[ -n "$sel" ] && [ "$sel" != "$ov" ] || continue
			others=$((others + 1))
			[ $others -le 3 ] || continue
			;;
		esac
		diff="$diff; $path: skopeo requires $sv, ocitar $ov${sel:+, the build used $sel}"
	done <<<"$ocitar_reqs"
	[ $others -le 3 ] || diff="$diff; and $((others - 3)) more modules"
	[ -n "$diff" ] || diff="; skopeo and ocitar require the same ${CORE_MODULES// /, }"
	die "$1 for $src with ocitar's go.mod (${diff#; }): ${first:-no error line} (go's output: $log)"
}

(
	cd "$work"
	go mod edit -require=github.com/ocitar/ocitar@v0.0.0-00010101000000-000000000000 -replace=github.com/ocitar/ocitar="$root"
	go mod tidy
) >>"$log" 2>&1 || gofail "go mod tidy failed"

image_used=$(cd "$work" && go list -m -f '{{.Version}}' go.podman.io/image/v5)
version=$(awk -F'"' '/^const Version/ { print $2 }' "$work/version/version.go" 2>/dev/null || true)
echo "$me: skopeo ${version:-(unknown version)} from $src, with ocitar from $root; go.podman.io/image/v5 $image_used (skopeo requires $image_skopeo, ocitar $image_ocitar)"
[ "$image_used" = "$image_ocitar" ] ||
	echo "$me: note: ocitar is tested with go.podman.io/image/v5 $image_ocitar; this build uses $image_used"
start=$SECONDS
(cd "$work" && go build -tags "$TAGS" -o "$tmp/skopeo.bin" ./cmd/skopeo) >>"$log" 2>&1 || gofail "go build failed"

# The binary must know oci-tar: and the tree must be as it was.
if ! check=$("$tmp/skopeo.bin" inspect --raw "oci-tar:$root/testdata/sample.docker.tar" 2>&1 >/dev/null); then
	die "the skopeo built from $src does not read oci-tar: (${check//$'\n'/ })"
fi
[ "$(tree_hash "$src")" = "$before" ] || die "$src changed while skopeo was built from it"
cp "$tmp/skopeo.bin" "$out.new" && mv -f "$out.new" "$out"
echo "$key" >"$stamp"
echo "$me: built $out in $((SECONDS - start)) s"
