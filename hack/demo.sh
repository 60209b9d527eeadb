#!/usr/bin/env bash
# make demo: convert the bundled sample docker-save archive to an OCI tar and back,
# listing each, and show that the image config survived both conversions; then
# record a pull through a mirror (ocitar serve --upstream --record).
set -euo pipefail
cd "$(dirname "$0")/.."
ocitar=bin/ocitar
out=out/demo
sample=testdata/sample.docker.tar
name=example.com/ocitar/sample:1
rm -rf "$out"
mkdir -p "$out"

step() { printf '\n== %s\n' "$*"; }

# serve LOG ARGS... starts ocitar serve on a free port of 127.0.0.1 in the
# background, logging to LOG; address LOG prints its address once it is ready.
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
serve() {
	local log=$1
	shift
	$ocitar serve --quiet --addr 127.0.0.1:0 "$@" >/dev/null 2>"$log" &
	pids+=($!)
}
address() {
	for _ in $(seq 100); do
		if grep -q 'serving on ' "$1"; then
			sed -n 's|.*serving on http://||p' "$1"
			return
		fi
		sleep 0.1
	done
	echo "demo: ocitar serve did not start: $(cat "$1")" >&2
	exit 1
}

step "the sample docker-save archive"
$ocitar ls "$sample"

step "docker-save -> OCI manifests (--format oci) in a tar docker load reads too; --dest-oci-only would leave docker's files out"
$ocitar copy -q --format oci "oci-tar:$sample" "oci-tar:$out/sample.oci.tar:$name"
$ocitar ls "$out/sample.oci.tar"

step "OCI tar -> docker-save"
$ocitar copy -q "oci-tar:$out/sample.oci.tar:$name" "docker-archive:$out/sample.back.tar:$name"
$ocitar ls "$out/sample.back.tar"

step "both samples in one archive that docker load and OCI tools read alike"
$ocitar save -q --all -o "$out/both.tar" "oci-tar:$sample" oci-tar:testdata/sample-multi.oci.tar
$ocitar ls "$out/both.tar"

step "config digest at each step"
for f in "$sample" "$out/sample.oci.tar" "$out/sample.back.tar"; do
	printf '%s  %s\n' "$($ocitar inspect --config --raw "oci-tar:$f" | sha256sum | cut -d' ' -f1)" "$f"
done
a=$($ocitar inspect --config --raw "oci-tar:$sample" | sha256sum)
b=$($ocitar inspect --config --raw "oci-tar:$out/sample.back.tar" | sha256sum)
if [ "$a" != "$b" ]; then
	echo "demo: the config changed on the round trip" >&2
	exit 1
fi
echo "round trip kept the image config"

step "a mirror that records what is pulled through it: ocitar serve --upstream --record"
serve "$out/upstream.log" "$out/both.tar"
upstream=$(address "$out/upstream.log")
serve "$out/mirror.log" --upstream "http://$upstream" --record "$out/pulled.tar"
mirror=$(address "$out/mirror.log")
$ocitar copy -q --src-tls-verify=false "docker://$mirror/example.com/ocitar/sample:1" "dir:$out/pulled.dir"
kill -TERM "${pids[1]}"
wait "${pids[1]}"
cat "$out/mirror.log"
$ocitar ls "$out/pulled.tar"
cat "$out/pulled.tar.lock.json"
