#!/usr/bin/env bash
# Fuzzes a live vaultd against docs/openapi.yaml with schemathesis.
#
#   scripts/fuzz-api.sh                        # uses target/release/vaultd
#   VAULTD_BIN=target/debug/vaultd scripts/fuzz-api.sh
#
# It builds nothing: build vaultd first (`cargo build --release`). It needs
# python3 (3.9 or newer) and node/npm (the @serenity-kit/opaque client in
# tests/interop logs in for a real token). On first use it installs a pinned
# schemathesis into a venv under target/fuzz-api-venv, and runs `npm ci` in
# tests/interop when node_modules is missing.
#
# What it does: starts vaultd on a fresh SQLite database (`--init-db`) in a
# temporary directory on a free loopback port, registers four users with the
# OPAQUE client, and runs schemathesis with a real bearer token on every route,
# with valid data (and the spec's examples and links) and invalid data. Checks:
# no 5xx (not_a_server_error); every status code, content type, header
# (Retry-After) and body is one the spec documents for that route
# (status_code_, content_type_, response_headers_, response_schema_conformance);
# invalid bodies are refused (negative_data_rejection); authenticated routes
# refuse a request without the token (ignored_auth).
#
# Routes that end the token they are called with are not fuzzed with the main
# run's token: /logout (revokes every token of the user),
# /account/password/finish (new password: older tokens and pending logins stop
# working) and /account/delete (the user is gone). Each runs first, in short
# runs of its own with its own user and a fresh token: invalid bodies while the
# token still works, then valid ones (the first success ends the token, and the
# rest check the documented 401). /account/password/finish needs the
# `registration_id` of an /account/password of the same user, so its valid run
# includes /account/password and follows the spec's link from one to the other.
#
# /login, /login/finish and /register are throttled per client address: every
# unfinished login and every /register counts as a failure, and 20 within 15
# minutes → 429 for all three (API.md 1.1). The script's own registrations and
# logins come first (4 + 4: the logins succeed and are forgiven, the
# registrations stay counted), so fuzzing cannot lock them out; after that,
# 429 is an expected, documented answer on those three routes. A last run
# trips the throttle on purpose and checks the 429 answers.
#
# Knobs (environment):
#   VAULTD_BIN           vaultd binary (default target/release/vaultd)
#   FUZZ_MAX_EXAMPLES    hypothesis examples per operation (default 50)
#   FUZZ_TIME_LIMIT      seconds for all schemathesis runs together (default 900)
#   FUZZ_SEED            hypothesis seed, to repeat a run
#   FUZZ_KEEP            1: keep the temporary directory (database, logs)
# Exit status: 0 when every run passed, else 1. The last line is a one-line
# summary. Logs: target/fuzz-api/ (schemathesis output, vaultd's log).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

SCHEMATHESIS_VERSION=3.39.16
# Pinned with it: the versions this script was checked with.
PIP_PINS=("schemathesis==$SCHEMATHESIS_VERSION" "hypothesis==6.131.0" "hypothesis-jsonschema==0.23.1")
VENV=$ROOT/target/fuzz-api-venv
SPEC=$ROOT/docs/openapi.yaml
OUT=$ROOT/target/fuzz-api
VAULTD_BIN=${VAULTD_BIN:-target/release/vaultd}
MAX_EXAMPLES=${FUZZ_MAX_EXAMPLES:-50}
TIME_LIMIT=${FUZZ_TIME_LIMIT:-900}
SEED=${FUZZ_SEED:-}

say() { printf 'fuzz-api: %s\n' "$*" >&2; }
die() { say "$*"; printf 'fuzz-api: FAILED (%s)\n' "$*"; exit 1; }

case "$VAULTD_BIN" in /*) ;; *) VAULTD_BIN=$ROOT/$VAULTD_BIN ;; esac
[[ -x $VAULTD_BIN ]] || die "no vaultd binary at $VAULTD_BIN: build it (cargo build --release) or set VAULTD_BIN"
command -v node >/dev/null || die "node is needed (tests/interop's OPAQUE client logs in)"
command -v curl >/dev/null || die "curl is needed"

# ---- schemathesis, in a venv of its own ------------------------------------
venv_ok() {
    local frozen pin
    frozen=$("$VENV/bin/python" -m pip freeze 2>/dev/null) || return 1
    for pin in "${PIP_PINS[@]}"; do
        grep -qixF "$pin" <<<"$frozen" || return 1
    done
}
if ! venv_ok; then
    PYTHON=
    for p in python3.11 python3.12 python3.10 python3.9 python3; do
        if command -v "$p" >/dev/null && "$p" -c 'import sys; sys.exit(sys.version_info < (3, 9))'; then
            PYTHON=$p
            break
        fi
    done
    [[ -n $PYTHON ]] || die "python 3.9 or newer is needed for schemathesis"
    say "installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "${PIP_PINS[@]}"
fi
ST=$VENV/bin/schemathesis

# ---- the OPAQUE client -------------------------------------------------------
if [[ ! -d tests/interop/node_modules/@serenity-kit/opaque ]]; then
    say "npm ci in tests/interop"
    (cd tests/interop && npm ci --no-audit --no-fund --loglevel=error)
fi

# ---- vaultd on a fresh SQLite database, on a free loopback port -------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/vaultd-fuzz.XXXXXX")
mkdir -p "$OUT"
rm -f "$OUT"/*.log "$OUT"/*.cassette.yaml
VAULTD_PID=
cleanup() {
    if [[ -n $VAULTD_PID ]] && kill -0 "$VAULTD_PID" 2>/dev/null; then
        kill -TERM "$VAULTD_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$VAULTD_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$VAULTD_PID" 2>/dev/null || true
    fi
    [[ -f $WORK/vaultd.log ]] && cp "$WORK/vaultd.log" "$OUT/vaultd.log"
    if [[ ${FUZZ_KEEP:-0} == 1 ]]; then say "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# The caller's VAULTD_* settings must not change what is tested.
(
    cd "$WORK"
    exec env -u VAULTD_TRUST_PROXY -u VAULTD_TLS_CERT -u VAULTD_TLS_KEY \
        -u VAULTD_SESSION_TTL -u VAULTD_SIGNUPS -u VAULTD_THREADS -u VAULTD_BIND \
        -u VAULTD_DATABASE_INI -u VAULTD_ENV_FILE -u VAULTD_DATA_DIR -u VAULTD_INIT_DB \
        "$VAULTD_BIN" --init-db --bind 127.0.0.1:0 --signups open \
        --data-dir "$WORK" --env-file "$WORK/.env" --database-ini "$WORK/database.ini"
) 2>"$WORK/vaultd.log" &
VAULTD_PID=$!

ADDR=
for _ in $(seq 200); do
    ADDR=$(sed -n 's|.*listening on http://\([^ ]*\).*|\1|p' "$WORK/vaultd.log" | head -n1)
    [[ -n $ADDR ]] && break
    kill -0 "$VAULTD_PID" 2>/dev/null || break
    sleep 0.1
done
[[ -n $ADDR ]] || { cat "$WORK/vaultd.log" >&2; die "vaultd did not start"; }
BASE=http://$ADDR
say "${VAULTD_BIN#"$ROOT"/} on $BASE (SQLite in $WORK)"
curl -fsS "$BASE/health" >/dev/null || die "GET /health failed"

# ---- users and tokens ----------------------------------------------------------
PASSWORD="fuzz $(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
opaque() { # opaque register|login NAME → stdout of serenity.mjs
    VAULTD_URL=$BASE VAULT_PASSWORD=$PASSWORD node tests/interop/serenity.mjs "$@"
}
token_of() { # token_of NAME → a fresh token on stdout
    local json
    json=$(opaque login "$1") || return 1
    node -e 'const t = JSON.parse(process.argv[1]).token; if (!t) process.exit(1); console.log(t)' "$json"
}
# Every registration the script needs, before any fuzzing: each /register
# counts against this address in the login throttle (4 of its 20).
for user in fuzz-main fuzz-logout fuzz-password fuzz-delete; do
    opaque register "$user" >/dev/null || die "registration of $user failed"
done

# ---- schemathesis ----------------------------------------------------------------
DEADLINE=$((SECONDS + TIME_LIMIT))
CHECKS=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance,negative_data_rejection,ignored_auth
RESULTS=()
FAILED=0

# run_st LABEL TOKEN [more schemathesis options: filters, data generation...]
run_st() {
    local label=$1 token=$2 left rc=0
    shift 2
    left=$((DEADLINE - SECONDS))
    if ((left < 10)); then
        RESULTS+=("$label: not run (time limit)")
        FAILED=1
        return
    fi
    local args=(
        run "$SPEC"
        --base-url "$BASE"
        --experimental openapi-3.1
        --header "Authorization: Bearer $token"
        --checks "$CHECKS"
        --hypothesis-max-examples "$MAX_EXAMPLES"
        --hypothesis-database none
        --hypothesis-suppress-health-check too_slow,filter_too_much,data_too_large
        --request-timeout 10000
        --code-sample-style curl
        --experimental-no-failfast
        --no-color
        --cassette-path "$OUT/$label.cassette.yaml"
    )
    [[ -n $SEED ]] && args+=(--hypothesis-seed "$SEED")
    say "schemathesis: $label ($left s left)"
    set +e
    # From $OUT, so that hypothesis keeps its .hypothesis cache there.
    (cd "$OUT" && timeout --signal=INT --kill-after=30 "$left" "$ST" "${args[@]}" "$@") 2>&1 | tee "$OUT/$label.log"
    rc=${PIPESTATUS[0]}
    set -e
    local tally
    tally=$(grep -E '^=+ .* in [0-9.]+s =+$' "$OUT/$label.log" | tail -n1 | sed -E 's/^=+ (.*) =+$/\1/')
    if ((rc == 124)); then
        tally="timed out${tally:+; $tally}"
    fi
    RESULTS+=("$label: ${tally:-exit $rc}")
    ((rc == 0)) || FAILED=1
}

# Routes that end their token, each with its own user, first (account routes
# want a token less than 5 minutes old): invalid bodies while the token is
# still good (400; without the spec's examples, which are valid), then valid
# ones (the first success ends the token; 401 after that).
for op in logout:fuzz-logout accountPasswordFinish:fuzz-password accountDelete:fuzz-delete; do
    token=$(token_of "${op#*:}") || die "login of ${op#*:} failed"
    run_st "${op%%:*}-negative" "$token" --include-operation-id "${op%%:*}" --data-generation-method negative \
        --stateful none --hypothesis-no-phases explicit
    if [[ ${op%%:*} == accountPasswordFinish ]]; then
        # A valid finish needs a registration_id from /account/password: the
        # link between the two (stateful phase) makes the success.
        run_st "${op%%:*}" "$token" --include-operation-id accountPassword \
            --include-operation-id accountPasswordFinish --data-generation-method positive --stateful links
    else
        run_st "${op%%:*}" "$token" --include-operation-id "${op%%:*}" --data-generation-method positive --stateful none
    fi
done
# Everything else with one token that stays valid: valid data, with the
# stateful phase along the spec's links (/add → /get, /change, /delete;
# /change → /get, /change at the current version; /login → /login/finish),
# then invalid data without links (a link's values would make a negative case
# valid again). /login fuzzing counts failed logins for this address, so every
# login the script needs happens before these runs.
token=$(token_of fuzz-main) || die "login of fuzz-main failed"
ALL_BUT_TOKEN_ENDERS=(
    --exclude-operation-id logout
    --exclude-operation-id accountPasswordFinish
    --exclude-operation-id accountDelete
)
run_st main "$token" --data-generation-method positive --stateful links "${ALL_BUT_TOKEN_ENDERS[@]}"
run_st main-negative "$token" --data-generation-method negative --stateful none "${ALL_BUT_TOKEN_ENDERS[@]}"
# Last, the throttled answers: 20 failed logins from this address (unknown
# login ids), then /login, /login/finish and /register must answer the
# documented 429 with Retry-After.
unknown_login='{"login_id":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","credential_finalization":"AA"}'
status=
for _ in $(seq 25); do
    status=$(curl -sS -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
        --data "$unknown_login" "$BASE/login/finish") || status=curl-failed
    [[ $status == 429 ]] && break
done
if [[ $status == 429 ]]; then
    run_st throttled "$token" --data-generation-method all --stateful none \
        --include-operation-id login --include-operation-id loginFinish --include-operation-id register
else
    RESULTS+=("throttled: /login/finish never answered 429 after 25 failed logins (last: $status)")
    FAILED=1
fi

# vaultd must have survived, and answered 500 to nothing.
kill -0 "$VAULTD_PID" 2>/dev/null || { RESULTS+=("vaultd: died during the run"); FAILED=1; }
if grep -qE ' 500 [0-9]+us$|panicked' "$WORK/vaultd.log"; then
    RESULTS+=("vaultd: logged a 500 or a panic (see $OUT/vaultd.log)")
    FAILED=1
fi

summary=$(IFS='|'; echo "${RESULTS[*]}" | sed 's/|/; /g')
if ((FAILED)); then
    echo "fuzz-api: FAILED (schemathesis $SCHEMATHESIS_VERSION, $MAX_EXAMPLES examples/operation) $summary; logs in ${OUT#"$ROOT"/}/"
    exit 1
fi
echo "fuzz-api: OK (schemathesis $SCHEMATHESIS_VERSION, $MAX_EXAMPLES examples/operation) $summary"
