#!/usr/bin/env bash
# Installs what `make test` needs on a Debian machine with Go: Debian packages
# with apt-get (as root; otherwise it names them and fails) and the Go peers
# crane, regctl, conformance, versitygw and crictl, pinned, into the project's bin/.
set -euo pipefail
cd "$(dirname "$0")/.."

# command package: one line each; the command tells whether the package is there.
packages="
gcc gcc
skopeo skopeo
umoci umoci
podman podman
dockerd docker.io
docker-registry docker-registry
zstd zstd
pigz pigz
nginx nginx-light
python3 python3
curl curl
"
missing=()
while read -r cmd pkg; do
	[ -n "$cmd" ] || continue
	[ -x "/usr/bin/$cmd" ] || [ -x "/usr/sbin/$cmd" ] || command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
done <<<"$packages"
[ ${#missing[@]} -eq 0 ] || [[ " ${missing[*]} " != *" gcc "* ]] || missing+=(libc6-dev)

if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
		echo "make test needs these Debian packages: ${missing[*]}" >&2
		echo "install them (sudo apt-get install ${missing[*]}) or run make test as root on Debian" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Go peers, pinned, built into bin/ (GOFLAGS cleared: the Makefile's tags are ocitar's).
install_go() { # name module@version
	if [ ! -x "bin/$1" ] || ! grep -qs "$2" "bin/.$1.version"; then
		GOFLAGS= GOBIN="$PWD/bin" go install "$2"
		echo "$2" >"bin/.$1.version"
	fi
}
install_go crane github.com/google/go-containerregistry/cmd/crane@v0.22.1
install_go regctl github.com/regclient/regclient/cmd/regctl@v0.11.7

# ocitar serve (issue 14): containerd and ctr come with docker.io; the OCI
# distribution-spec conformance suite, a plain main program, runs against it.
install_go conformance github.com/opencontainers/distribution-spec/conformance@v0.0.0-20260831232431-97274622c111

# remote archives (issue 20): nginx (nginx-light, above) serves files with
# Range; versitygw is an S3 gateway over a POSIX directory; bench's remote
# group downloads the archive with curl, today's way.
install_go versitygw github.com/versity/versitygw/cmd/versitygw@v1.8.0

# containerd's CRI plugin, the kubelet's path, pulls from ocitar serve; crictl
# is the client that drives it.
install_go crictl sigs.k8s.io/cri-tools/cmd/crictl@v1.37.0

for cmd in gcc skopeo umoci podman dockerd docker-registry zstd pzstd pigz nginx python3 curl containerd ctr bin/crane bin/regctl bin/conformance bin/versitygw bin/crictl; do
	if ! command -v "$cmd" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$cmd" ]; then
		echo "install-deps: $cmd is still missing" >&2
		exit 1
	fi
done
