# vaultd — the two commands a newcomer needs are `make run` and `make test`.
CARGO ?= cargo
NPM   ?= npm

.PHONY: run test test-agent build release interop-deps fuzz-api bench fmt lint clean audit

# Build and serve on the embedded SQLite default. Creates .env (secrets) and
# vaultd.db in this directory on first run. VAULTD_BIND (default
# 127.0.0.1:8080) and the other VAULTD_* variables are honoured.
run:
	$(CARGO) run --release --bin vaultd -- --init-db

# Every test: unit, store (SQLite and PostgreSQL), API over real HTTP, the
# vault CLI end to end, the @serenity-kit/opaque interoperability run and
# the web vault in Chromium (their npm packages are installed first when npm
# is present).
test: interop-deps
	@tests/common/skipped.sh reset
	@status=0; $(CARGO) test --all-targets || status=$$?; \
		$(MAKE) --no-print-directory test-agent || status=$$?; \
		tests/common/skipped.sh summary; exit $$status

# The CLI suites once more, each command run through an unlocked agent
# (`vault unlock` first, by tests/cli_kit): the CLI must behave the same
# with an agent as without. Part of `make test`. The suites are the test files that run `vault` through tests/cli_kit.
CLI_SUITES = $(filter-out agent,$(basename $(notdir $(shell grep -l '^mod cli_kit;' tests/*.rs))))
test-agent:
	VAULT_TEST_AGENT=1 $(CARGO) test $(addprefix --test ,$(CLI_SUITES))

interop-deps:
	@if command -v $(NPM) >/dev/null 2>&1; then \
		cd tests/interop && $(NPM) ci --no-audit --no-fund --loglevel=error; \
	else \
		echo "npm not found: the serenity interoperability test will be skipped"; \
	fi
	@# The web vault's browser tests (tests/web.rs): playwright-core, pinned.
	@if command -v $(NPM) >/dev/null 2>&1; then \
		cd tests/web && $(NPM) ci --no-audit --no-fund --loglevel=error; \
	else \
		echo "npm not found: the web vault's browser tests will be skipped"; \
	fi

build:
	$(CARGO) build --release

# Contract fuzzing: schemathesis (pinned, in a venv under target/) against a
# live vaultd with real tokens, checking every answer against docs/openapi.yaml.
fuzz-api:
	$(CARGO) build --release --bin vaultd
	scripts/fuzz-api.sh

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

clean:
	$(CARGO) clean

# The RustSec advisory check (deny.toml). cargo-deny fetches the advisory
# database from its repository, which CI cannot reach: run this where the
# network can (CI runs the offline checks: bans, licences, sources).
# AUDIT_OFFLINE=1 uses a copy already in ~/.cargo/advisory-dbs instead.
# docs/SECURITY.md lists the advisories that apply to the tree.
AUDIT_OFFLINE ?=
audit:
	@command -v cargo-deny >/dev/null 2>&1 || { \
		echo "make audit needs cargo-deny: cargo install --locked cargo-deny@0.20.2"; exit 1; }
	$(CARGO) deny $(if $(filter 1,$(AUDIT_OFFLINE)),--offline) check --hide-inclusion-graph advisories

# The HTTP throughput benchmark (docs/PERFORMANCE.md): ceilings,
# vaultd on SQLite and (when its server binaries are installed) PostgreSQL,
# driven by wrk on loopback; prints one Markdown table. About 5 minutes after
# the build. BENCH_GROWTH=1 adds the 100 000-user / 1 000 000-entry part
# (about 2 more minutes). BENCH_ARGS go to bench-http (`--help`).
# The login benchmark is separate: bench/login.sh.
BENCH_ARGS ?=
bench:
	@if ! command -v wrk >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			apt-get update && apt-get install -y wrk; \
		else \
			echo "make bench needs wrk: install it (Debian: sudo apt-get install wrk)"; exit 1; \
		fi; \
	fi
	$(CARGO) build --release --bin vaultd --example bench-http --example bench-bare --example bench-fsync
	target="$${CARGO_TARGET_DIR:-target}"; \
	"$$target/release/examples/bench-http" --vaultd "$$target/release/vaultd" \
		--bare "$$target/release/examples/bench-bare" \
		--fsync "$$target/release/examples/bench-fsync" \
		$(if $(filter 1,$(BENCH_GROWTH)),--growth) $(BENCH_ARGS)
