#!/bin/sh
# The agent benchmark of issue 16 (docs/PERFORMANCE.md, "Agent"): the wall
# time of `vault get` with an unlocked agent against today's `vault get`
# (a fresh login), in the same run, against a scratch vaultd on loopback.
# A measurement, not a test: it prints medians and asserts nothing.
#
#   bench/agent.sh [RUNS] [ENTRIES]   release build (default 30 runs each,
#                                     a vault of 1 entry)
#   PROFILE=debug bench/agent.sh      the dev build instead
set -eu
cd "$(dirname "$0")/.."
runs="${1:-30}"
entries="${2:-1}"
profile="${PROFILE:-release}"
if [ "$profile" = release ]; then
    cargo build --release --quiet --bin vaultd --bin vault
else
    cargo build --quiet --bin vaultd --bin vault
fi
bin="$(pwd)/${CARGO_TARGET_DIR:-target}/$profile"
tmp=$(mktemp -d)
mkdir -m 700 "$tmp/run"
cleanup() {
    "$bin/vault" lock >/dev/null 2>&1 || true
    [ -n "${server_pid:-}" ] && kill "$server_pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
(cd "$tmp" && exec "$bin/vaultd" --bind 127.0.0.1:0 --init-db --trust-proxy 2>"$tmp/log") &
server_pid=$!
i=0
until grep -q 'http://' "$tmp/log" 2>/dev/null; do
    i=$((i + 1)); [ "$i" -gt 100 ] && { cat "$tmp/log"; exit 1; }
    sleep 0.1
done
url="http://$(grep -o 'http://[0-9.:]*' "$tmp/log" | head -1 | cut -d/ -f3)"
export HOME="$tmp" XDG_RUNTIME_DIR="$tmp/run" XDG_STATE_HOME="$tmp/state" \
    VAULT_SERVER="$url" VAULT_USERNAME=bench VAULT_PASSWORD="bench: a long passphrase 42"
"$bin/vault" register >/dev/null 2>&1
printf 'hunter2' | "$bin/vault" add mail.example.org 2>/dev/null
if [ "$entries" -gt 1 ]; then
    # The rest of the vault, each entry with a URL and a note.
    python3 - "$entries" >"$tmp/more.csv" <<'PY'
import sys
print("name,url,username,password,note")
for i in range(1, int(sys.argv[1])):
    print(f"site-{i}.example,https://site-{i}.example/login,user{i}@example.org,pw-{i}-xxxxxxxxxxxx,note {i}")
PY
    "$bin/vault" import "$tmp/more.csv" >/dev/null 2>&1
fi
echo "vault of $("$bin/vault" ls | wc -l) entries"

now_ms() { date +%s%N | awk '{ printf "%.2f", $1 / 1000000 }'; }
# Median and range of RUNS wall times of `vault get` (ms, one per line).
measure() {
    n=0
    while [ "$n" -lt "$runs" ]; do
        t0=$(now_ms)
        "$bin/vault" get mail.example.org >/dev/null
        t1=$(now_ms)
        echo "$t1 $t0" | awk '{ printf "%.2f\n", $1 - $2 }'
        n=$((n + 1))
    done | sort -n | awk '{ v[NR] = $1 } END {
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "median %.1f ms, min %.1f ms, max %.1f ms (%d runs)\n", m, v[1], v[NR], NR }'
}
echo "vault get, fresh login (today):  $(measure)"
"$bin/vault" unlock >/dev/null 2>&1
echo "vault get, unlocked agent:       $(VAULT_PASSWORD='' measure)"
# Eight commands at once through the agent: how many logins and 429s.
logins_before=$(grep -c 'POST /login/finish 200' "$tmp/log" || true)
pids=""
for n in 1 2 3 4 5 6 7 8; do
    VAULT_PASSWORD='' "$bin/vault" get mail.example.org >"$tmp/par.$n" 2>&1 &
    pids="$pids $!"
done
failed=0
for p in $pids; do wait "$p" || failed=$((failed + 1)); done
logins=$(($(grep -c 'POST /login/finish 200' "$tmp/log" || true) - logins_before))
throttled=$(grep -c ' 429 ' "$tmp/log" || true)
echo "8 parallel vault get through the agent: $failed failed, $logins logins, $throttled answers 429"
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $profile build"
