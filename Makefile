# vaultd — the two commands a newcomer needs are `make run` and `make test`.
CARGO ?= cargo
NPM   ?= npm

.PHONY: run test build release interop-deps fuzz-api fmt lint clean

# Build and serve on the embedded SQLite default. Creates .env (secrets) and
# vaultd.db in this directory on first run. VAULTD_BIND (default
# 127.0.0.1:8080) and the other VAULTD_* variables are honoured.
run:
	$(CARGO) run --release --bin vaultd -- --init-db

# Every test: unit, store (SQLite and PostgreSQL), API over real HTTP, the
# vault CLI end to end, and the @serenity-kit/opaque interoperability run
# (its npm package is installed first when npm is present).
test: interop-deps
	$(CARGO) test --all-targets

interop-deps:
	@if command -v $(NPM) >/dev/null 2>&1; then \
		cd tests/interop && $(NPM) ci --no-audit --no-fund --loglevel=error; \
	else \
		echo "npm not found: the serenity interoperability test will be skipped"; \
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
