#!/usr/bin/env bash
# Runs each fuzz target for a short while, one after the other, for CI or a
# quick check before a commit (fuzz/README.md).
#
#   fuzz/run-briefly.sh [SECONDS] [TARGET...]
#
# SECONDS per target (default 30; 0 only replays the committed seeds and
# whatever work/<target> holds, a deterministic regression check); TARGETs
# default to all four. Needs
# cargo-fuzz (`cargo install cargo-fuzz`); without it the script says so and
# exits 0, unless FUZZ_REQUIRE=1, when it fails. Works on stable Rust through
# RUSTC_BOOTSTRAP=1 (cargo-fuzz passes -Zsanitizer=address). Every process
# runs under `nice -n 19` (FUZZ_NICE="" to turn that off). Exits non-zero on
# the first finding, leaving the input in fuzz/artifacts/<target>/.
set -euo pipefail

cd "$(dirname "$0")"
seconds=${1:-30}
[[ $# -gt 0 ]] && shift
targets=("$@")
((${#targets[@]} > 0)) || targets=(routes token opaque body)

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "run-briefly: cargo-fuzz is not installed (cargo install cargo-fuzz)" >&2
    [[ ${FUZZ_REQUIRE:-0} == 1 ]] && exit 1
    echo "run-briefly: skipped"
    exit 0
fi

export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
read -r -a nice <<<"${FUZZ_NICE-nice -n 19}"

# -O: optimised; -a: debug assertions and overflow checks, in vaultd and in
# every dependency. Builds all targets in one cargo run.
"${nice[@]}" cargo fuzz build -O -a

for target in "${targets[@]}"; do
    dict=()
    case $target in
    routes) dict=(-dict="$PWD/dict/routes.dict") ;;
    body) dict=(-dict="$PWD/dict/json.dict") ;;
    token) dict=(-dict="$PWD/dict/token.dict") ;;
    esac
    # New inputs go to work/<target> (ignored by git); the committed seeds
    # in corpus/<target> are only read.
    mkdir -p "work/$target"
    if ((seconds > 0)); then
        echo "run-briefly: $target for ${seconds}s"
        limit=(-max_total_time="$seconds")
    else
        echo "run-briefly: $target: replaying its corpus"
        limit=(-runs=0)
    fi
    if ! "${nice[@]}" cargo fuzz run -O -a "$target" "work/$target" "corpus/$target" -- \
        "${limit[@]}" -timeout=30 -max_len=4096 -print_final_stats=1 \
        "${dict[@]}" 2>"work/$target.log"; then
        tail -n 60 "work/$target.log" >&2
        echo "run-briefly: $target FOUND A PROBLEM; input in fuzz/artifacts/$target/" >&2
        exit 1
    fi
    grep -E '^(#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|stat::average_exec_per_sec)' \
        "work/$target.log" | sed "s/^/run-briefly: $target: /"
done
if ((seconds > 0)); then
    echo "run-briefly: ${#targets[@]} target(s), ${seconds}s each, no finding"
else
    echo "run-briefly: ${#targets[@]} target(s), every corpus input replayed, no finding"
fi
