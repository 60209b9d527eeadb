#!/usr/bin/env bash
# Side-by-side timings of reading and writing image tars, on one machine in one
# run. Runs alternate, RUNS times each; the table gives the median wall time,
# its range, the peak bytes under TMPDIR, and the ratio to cp of the same file.
# SIZE_MIB sets the image size (default 512). Needs bin/ocitar (make build).
set -euo pipefail
cd "$(dirname "$0")/.."
size=${SIZE_MIB:-512}
runs=${RUNS:-5}
work=bench/work
ocitar="bin/ocitar --tmpdir $PWD/bench/work/tmp"
mkdir -p "$work/tmp"
export TMPDIR=$PWD/$work/tmp
if [ ! -f "$work/large.oci.tar" ] || [ "$(cat "$work/size" 2>/dev/null)" != "$size" ]; then
	go run ./internal/testimage/gentestdata -large "$size" "$work" >/dev/null
	echo "$size" >"$work/size"
fi
oci=$work/large.oci.tar
docker=$work/large.docker.tar
out=$work/out

# measure CMD...: runs CMD with its output discarded; prints its wall ms and
# the peak bytes under TMPDIR, sampled every 20 ms beside it.
measure() {
	local peak=0 now
	rm -rf "${TMPDIR:?}"/* "$out" && mkdir -p "$out"
	(
		start=$(date +%s%N)
		"$@" >/dev/null 2>&1
		echo $((($(date +%s%N) - start) / 1000000)) >"$work/ms"
	) &
	local pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		now=$(du -sb "$TMPDIR" 2>/dev/null | cut -f1 || true)
		((${now:-0} > peak)) && peak=$now
		sleep 0.02
	done
	wait "$pid"
	echo "$(cat "$work/ms") $((peak > 4096 ? peak : 0))"
}

cp_sync() { cp "$1" "$2" && sync "$2"; }
copy_to() { $ocitar --insecure-policy copy -q "$1" "$2"; }

names=(
	"inspect oci-tar:"
	"inspect oci-archive:"
	"read: copy oci-tar: -> dir:"
	"read: copy oci-archive: -> dir:"
	"read: copy docker-archive: -> dir:"
	"read floor: cp OCI tar"
	"write: copy docker-archive: -> oci-tar:"
	"write: copy docker-archive: -> oci-archive:"
	"write floor: cp docker-save tar"
	"write floor: cp + fsync, as ocitar syncs before its rename"
)
cmds=(
	"$ocitar inspect oci-tar:$oci"
	"$ocitar inspect oci-archive:$oci"
	"copy_to oci-tar:$oci dir:$out/d"
	"copy_to oci-archive:$oci dir:$out/d"
	"copy_to docker-archive:$docker dir:$out/d"
	"cp $oci $out/"
	"copy_to docker-archive:$docker oci-tar:$out/y.tar"
	"copy_to docker-archive:$docker oci-archive:$out/y.tar"
	"cp $docker $out/"
	"cp_sync $docker $out/y.tar"
)
floor_of=(5 5 5 5 5 5 8 8 8 8)
declare -A ms peak
for ((r = 0; r < runs; r++)); do
	for i in "${!cmds[@]}"; do
		read -r t p < <(measure ${cmds[$i]})
		ms[$i]+="$t "
		((p > ${peak[$i]:-0})) && peak[$i]=$p
	done
done

median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
range() { tr ' ' '\n' | grep . | sort -n | awk 'NR==1{lo=$1} {hi=$1} END {print lo "-" hi}'; }

echo "Image: $(du -m "$oci" | cut -f1) MiB in 8 layers of incompressible data; $runs runs each, alternating; warm page cache; $(nproc) cores, $(uname -m); $(date -u +%Y-%m-%d)"
echo
echo "| command | median ms | range ms | peak TMPDIR MiB | vs cp |"
echo "|---|---:|---:|---:|---:|"
rm -rf "$out"
for i in "${!cmds[@]}"; do
	m=$(echo "${ms[$i]}" | median)
	f=$(echo "${ms[${floor_of[$i]}]}" | median)
	printf '| %s | %s | %s | %s | %sx |\n' "${names[$i]}" "$m" "$(echo "${ms[$i]}" | range)" \
		"$(awk -v p="${peak[$i]:-0}" 'BEGIN {printf "%.0f", p / 1048576}')" "$(awk -v a="$m" -v b="$f" 'BEGIN {printf "%.2f", a / b}')"
done
