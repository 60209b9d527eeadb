#!/usr/bin/env bash
# Installs what `make test` needs on a Debian machine with Go. As root it installs
# missing Debian packages with apt-get (one apt-get update at most); otherwise it
# names them and fails.
set -euo pipefail

missing=()
command -v gcc >/dev/null 2>&1 || missing+=(gcc libc6-dev) # cgo and the race detector
command -v skopeo >/dev/null 2>&1 || missing+=(skopeo)      # the peer of integration/

if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "make test needs these Debian packages: ${missing[*]}" >&2
	echo "install them (sudo apt-get install ${missing[*]}) or run make test as root" >&2
	exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
	echo "make test needs these Debian packages: ${missing[*]}; apt-get is not available here, install them by hand" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
for cmd in gcc skopeo; do
	if ! command -v "$cmd" >/dev/null 2>&1; then
		echo "install-deps: $cmd is still missing after apt-get install ${missing[*]}" >&2
		exit 1
	fi
done
