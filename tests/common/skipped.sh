#!/usr/bin/env bash
# The skipped tests of a `make test` run (tests/common/skip.rs):
#   tests/common/skipped.sh reset     before the run
#   tests/common/skipped.sh summary   after it: how many, and why
set -euo pipefail
log="${CARGO_TARGET_DIR:-target}/tmp/vaultd-skipped.tsv"
case "${1:-}" in
reset)
    rm -f "$log"
    ;;
summary)
    if [[ ! -s $log ]]; then
        echo "skipped tests: none"
        exit 0
    fi
    echo "skipped tests: $(wc -l <"$log") (they passed without checking anything)"
    # Per reason: how many, and in which test binaries.
    sort -t $'\t' -k3,3 -k1,1 "$log" | awk -F'\t' '
        $3 != reason { if (n) printf "  %4d  %s (%s)\n", n, reason, bins
                       reason = $3; n = 0; bins = ""; last = "" }
        { n++; if ($1 != last) { bins = bins (bins ? ", " : "") $1; last = $1 } }
        END { printf "  %4d  %s (%s)\n", n, reason, bins }'
    ;;
*)
    echo "usage: $0 reset|summary" >&2
    exit 2
    ;;
esac
