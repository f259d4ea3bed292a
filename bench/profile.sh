#!/bin/sh
# Where a request's work goes (docs/PERFORMANCE.md):
#   1. instructions per request, from valgrind's callgrind, for each hot
#      path, with the functions that cost most;
#   2. system calls per request, from strace -c, on the normal release build.
# Instruction counts do not depend on the machine's load, unlike timings.
#
#   bench/profile.sh [REQUESTS]        (default 2000 per scenario)
#
# It builds vaultd with symbols (release profile, not stripped, line tables)
# in $CARGO_TARGET_DIR/prof, and bench-http (for seeding). Needs valgrind,
# strace and wrk. Output: a summary on stdout; the callgrind files are kept
# in the directory it prints. To profile other builds (before/after a
# change), set PROFILE_VAULTD (with symbols, for callgrind) and
# PROFILE_VAULTD_RELEASE (for strace); nothing is built for them.
set -eu
cd "$(dirname "$0")/.."
N=${1:-2000}
# Absolute: the servers are started in their own directories.
target=$(realpath -m "${CARGO_TARGET_DIR:-target}")
if [ -z "${PROFILE_VAULTD:-}" ]; then
	CARGO_PROFILE_RELEASE_STRIP=none CARGO_PROFILE_RELEASE_DEBUG=line-tables-only \
		CARGO_TARGET_DIR="$target/prof" cargo build --quiet --release --bin vaultd
	PROFILE_VAULTD="$target/prof/release/vaultd"
fi
if [ -z "${PROFILE_VAULTD_RELEASE:-}" ]; then
	cargo build --quiet --release --bin vaultd
	PROFILE_VAULTD_RELEASE="$target/release/vaultd"
fi
cargo build --quiet --release --example bench-http
out=$(mktemp -d /tmp/vaultd-profile.XXXXXX)
echo "profile: output in $out; load average $(cut -d' ' -f1-3 /proc/loadavg)"

pid=
cleanup() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
}
trap cleanup EXIT

# Starts "$@" in $out/$1-dir with stderr in $out/$1.log; sets pid and addr.
start() {
	name=$1; shift
	mkdir -p "$out/$name-dir"
	(cd "$out/$name-dir" && exec "$@" --bind 127.0.0.1:0 --init-db --threads 2) 2>"$out/$name.log" &
	pid=$!
	i=0
	while ! grep -q "listening on http://" "$out/$name.log" 2>/dev/null; do
		i=$((i + 1)); [ $i -lt 600 ] || { cat "$out/$name.log"; exit 1; }
		sleep 0.1
	done
	addr=$(sed -n 's/.*listening on http:\/\/\([^ ]*\).*/\1/p' "$out/$name.log" | head -1)
	"$target/release/examples/bench-http" --seed "$addr" >"$out/$name.seed"
	. "$out/$name.seed"
}

# drive N SCRIPT PATH ARGS...: exactly N requests on one connection; @RUN@
# in ARGS becomes a fresh word each time (new sites for /add).
runs=0
drive() {
	n=$1 script=$2 path=$3; shift 3
	runs=$((runs + 1))
	# shellcheck disable=SC2046
	set -- $(echo "$@" | sed "s/@RUN@/r$runs/g")
	BENCH_COUNT=$n timeout 600 wrk -t1 -c1 -d600s -s "bench/wrk/$script" "http://$addr$path" -- "$@" >/dev/null
}

scenarios() {
	# name script path args...
	echo "get-one get.lua /get $TOKEN_E10 $SITE_ONE"
	echo "get-all-10 get.lua /get $TOKEN_E10"
	echo "get-all-100 get.lua /get $TOKEN_E100"
	echo "add add.lua /add $TOKEN_ADD p$$@RUN@"
	echo "change change.lua /change $TOKEN_CHG chg 64"
}

# 1. callgrind
start callgrind valgrind --tool=callgrind --instr-atstart=no \
	--callgrind-out-file="$out/callgrind.out" "$PROFILE_VAULTD"
# Instrumentation stays on from here (switching it off and on again can
# hang callgrind_control while every thread sleeps); counters are zeroed
# before and dumped after each measured batch.
control() { timeout 120 callgrind_control "$@" "$pid" >/dev/null 2>&1; }
control -i on
echo
echo "| scenario | requests | instructions per request (user space, all threads) |"
echo "|---|---:|---:|"
scenarios | while read -r name script path args; do
	# shellcheck disable=SC2086
	drive 100 "$script" "$path" $args           # warm-up: caches, statements
	control -z
	# shellcheck disable=SC2086
	drive "$N" "$script" "$path" $args
	control -d "$name"
	file=$(ls -t "$out"/callgrind.out.* | head -1)
	mv "$file" "$out/$name.callgrind"
	total=$(callgrind_annotate "$out/$name.callgrind" 2>/dev/null | sed -n 's/^ *\([0-9,]*\) .*PROGRAM TOTALS.*/\1/p' | tr -d ,)
	echo "| $name | $N | $((total / N)) |"
	callgrind_annotate --inclusive=yes "$out/$name.callgrind" 2>/dev/null | head -60 >"$out/$name.inclusive.txt"
	callgrind_annotate "$out/$name.callgrind" 2>/dev/null | head -60 >"$out/$name.self.txt"
done
cleanup; pid=

# 2. strace on the normal release build
if command -v strace >/dev/null 2>&1; then
	start strace "$PROFILE_VAULTD_RELEASE"
	echo
	echo "| scenario | system calls per request (all threads) | the most frequent |"
	echo "|---|---:|---|"
	scenarios | while read -r name script path args; do
		# shellcheck disable=SC2086
		drive 100 "$script" "$path" $args
		strace -qq -f -c -p "$pid" -o "$out/$name.strace" &
		spid=$!
		sleep 1
		# shellcheck disable=SC2086
		drive "$N" "$script" "$path" $args
		kill -INT "$spid"; wait "$spid" 2>/dev/null || true
		calls=$(awk '$NF == "total" {print $(NF-2)}' "$out/$name.strace")
		top=$(awk 'NR > 2 && $1 !~ /^-/ && $NF != "total" {c = (NF == 6 ? $5 : $4); print c, $NF}' "$out/$name.strace" \
			| sort -rn | head -6 | awk -v n="$N" '{printf "%s %.1f, ", $2, $1 / n}')
		echo "| $name | $(awk -v c="$calls" -v n="$N" 'BEGIN {printf "%.1f", c / n}') | ${top%, } |"
	done
	cleanup; pid=
else
	echo "strace not found: system calls skipped"
fi
echo
echo "profile: per-function tables in $out/*.inclusive.txt and *.self.txt"
