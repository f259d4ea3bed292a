#!/bin/sh
# The login benchmark: builds the release vaultd and bench-login,
# then runs it. Arguments go to bench-login (`bench/login.sh --help`).
# Results and method: docs/PERFORMANCE.md.
set -eu
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin vaultd --example bench-login
target="${CARGO_TARGET_DIR:-target}"
exec "$target/release/examples/bench-login" --vaultd "$target/release/vaultd" "$@"
