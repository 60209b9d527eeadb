#!/usr/bin/env bash
# Side-by-side timings of the read path, on one machine in one run:
#   inspect:  ocitar inspect oci-tar:X   vs  ocitar inspect oci-archive:X
#   copy:     ocitar copy oci-tar:X dir:D  vs  ocitar copy oci-archive:X dir:D  vs  cp X D/
# Runs alternate, RUNS times each; the table gives the median and the range in ms.
# SIZE_MIB sets the image size (default 512). Needs bin/ocitar (make build).
set -euo pipefail
cd "$(dirname "$0")/.."
size=${SIZE_MIB:-512}
runs=${RUNS:-5}
work=bench/work
ocitar=bin/ocitar
mkdir -p "$work/tmp"
export TMPDIR=$PWD/$work/tmp
if [ ! -f "$work/large.oci.tar" ] || [ "$(cat "$work/size" 2>/dev/null)" != "$size" ]; then
	go run ./internal/testimage/gentestdata -large "$size" "$work" >/dev/null
	echo "$size" >"$work/size"
fi
oci=$work/large.oci.tar
docker=$work/large.docker.tar

# ms CMD...: runs CMD with its output discarded and prints the wall time in ms.
ms() {
	local start end
	start=$(date +%s%N)
	"$@" >/dev/null 2>&1
	end=$(date +%s%N)
	echo $(((end - start) / 1000000))
}

fresh() { rm -rf "$work/out" && mkdir -p "$work/out"; }
cp_floor() { fresh && cp "$1" "$work/out/"; }
copy_dir() { fresh && $ocitar --insecure-policy copy -q "$1" "dir:$work/out/d"; }

names=(
	"inspect oci-tar:"
	"inspect oci-archive:"
	"copy oci-tar: -> dir:"
	"copy oci-archive: -> dir:"
	"copy docker-save via oci-tar: -> dir:"
	"copy docker-save via docker-archive: -> dir:"
	"cp (floor)"
)
cmds=(
	"$ocitar inspect oci-tar:$oci"
	"$ocitar inspect oci-archive:$oci"
	"copy_dir oci-tar:$oci"
	"copy_dir oci-archive:$oci"
	"copy_dir oci-tar:$docker"
	"copy_dir docker-archive:$docker"
	"cp_floor $oci"
)
declare -A samples
for ((r = 0; r < runs; r++)); do
	for i in "${!cmds[@]}"; do
		samples[$i]+="$(ms ${cmds[$i]}) "
	done
done

median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
range() { tr ' ' '\n' | grep . | sort -n | awk 'NR==1{lo=$1} {hi=$1} END {print lo "-" hi}'; }

floor=$(echo "${samples[6]}" | median)
echo "Image: $(du -m "$oci" | cut -f1) MiB in 8 layers; $runs runs each, alternating; $(nproc) cores, $(uname -m); $(date -u +%Y-%m-%d)"
echo
echo "| command | median ms | range ms | vs cp |"
echo "|---|---:|---:|---:|"
for i in "${!cmds[@]}"; do
	m=$(echo "${samples[$i]}" | median)
	printf '| %s | %s | %s | %sx |\n' "${names[$i]}" "$m" "$(echo "${samples[$i]}" | range)" "$(awk -v a="$m" -v b="$floor" 'BEGIN {printf "%.2f", a / b}')"
done
fresh
