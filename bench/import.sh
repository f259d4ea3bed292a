#!/bin/sh
# The import benchmark (docs/PERFORMANCE.md "Import"): a real
# vaultd on loopback (SQLite, a scratch directory), one account, and
# `vault import` of 1,000 generated entries (Chrome CSV with notes and
# Unicode; then the same as vault's own export). A measurement, not a test:
# it prints times and asserts none.
#
#   bench/import.sh [debug|release] [N]     (default: debug 1000)
#
# It builds the binaries of that profile first. Everything it starts it
# stops (the vaultd by its pid); the scratch directory is removed.
set -eu
cd "$(dirname "$0")/.."
profile="${1:-debug}"
n="${2:-1000}"
if [ "$profile" = release ]; then
    cargo build --release --quiet --bin vaultd --bin vault
else
    cargo build --quiet --bin vaultd --bin vault
fi
bin="$(pwd)/${CARGO_TARGET_DIR:-target}/$profile"
dir="$(mktemp -d)"
pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT INT TERM
(cd "$dir" && exec env -u JWT_KEY -u OPAQUE_SERVER_SETUP "$bin/vaultd" \
    --bind 127.0.0.1:0 --init-db 2>"$dir/vaultd.log" >/dev/null) &
pid=$!
addr=""
for _ in $(seq 1 300); do
    addr="$(sed -n 's/.*listening on http:\/\/\([^ ]*\).*/\1/p' "$dir/vaultd.log" | head -n1)"
    [ -n "$addr" ] && break
    sleep 0.1
done
[ -n "$addr" ] || { cat "$dir/vaultd.log"; exit 1; }

export HOME="$dir" XDG_CONFIG_HOME="$dir/.config"
export VAULT_SERVER="http://$addr" VAULT_PASSWORD="bench import master password 1"
now() { date +%s.%N; }
took() { echo "$2 - $1" | bc; }

python3 - "$n" > "$dir/chrome.csv" <<'PY'
import sys
n = int(sys.argv[1])
print("name,url,username,password,note")
for i in range(n):
    print(f'site-{i}.example,https://site-{i}.example/login,user{i}@example.org,"pw-{i},""q"" ü","note {i}, ''ünïcödé''\nsecond line"')
PY

VAULT_USERNAME=bench "$bin/vault" register >/dev/null 2>&1
VAULT_USERNAME=bench2 "$bin/vault" register >/dev/null 2>&1
echo "vault import of $n entries ($profile build), vaultd at $addr"

t0=$(now)
VAULT_USERNAME=bench "$bin/vault" import "$dir/chrome.csv" --dry-run >/dev/null 2>&1
t1=$(now)
echo "  --dry-run (login, read, plan; no writes): $(took "$t0" "$t1") s"

t0=$(now)
VAULT_USERNAME=bench "$bin/vault" import "$dir/chrome.csv" 2>"$dir/import.log"
t1=$(now)
tail -n1 "$dir/import.log" | sed 's/^/  /'
echo "  chrome-csv import: $(took "$t0" "$t1") s"

VAULT_USERNAME=bench "$bin/vault" export >"$dir/export.json" 2>/dev/null
t0=$(now)
VAULT_USERNAME=bench2 "$bin/vault" import "$dir/export.json" 2>"$dir/import2.log"
t1=$(now)
tail -n1 "$dir/import2.log" | sed 's/^/  /'
echo "  vault export import: $(took "$t0" "$t1") s"

t0=$(now)
VAULT_USERNAME=bench "$bin/vault" export >/dev/null 2>&1
t1=$(now)
echo "  vault export of $n entries: $(took "$t0" "$t1") s"
echo "  (each vault run includes one login: Argon2id 64 MiB)"
