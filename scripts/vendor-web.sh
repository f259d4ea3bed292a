#!/usr/bin/env bash
# Refreshes web/vendor/ from the npm registry at the pinned versions below:
# the @serenity-kit/opaque ESM build (one file, its WebAssembly inlined) as
# published, and @noble/ciphers and @noble/hashes bundled into one ES module
# each by a pinned esbuild (only here: `cargo build` never needs npm).
# Writes the licences and web/vendor/SHA256SUMS, which tests/web_serving.rs
# checks. Run from anywhere; needs npm and network access to the registry.
set -euo pipefail

OPAQUE=1.1.0   # the version tests/interop/package.json pins
CIPHERS=2.4.0
HASHES=2.4.0
ESBUILD=0.28.2

root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/web/vendor"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
cat >package.json <<JSON
{"name": "vaultd-vendor", "version": "0.0.0", "private": true, "type": "module",
 "dependencies": {"@serenity-kit/opaque": "$OPAQUE", "@noble/ciphers": "$CIPHERS",
                  "@noble/hashes": "$HASHES", "esbuild": "$ESBUILD"}}
JSON
npm install --no-audit --no-fund --loglevel=error --save-exact >/dev/null
for p in @serenity-kit/opaque:$OPAQUE @noble/ciphers:$CIPHERS @noble/hashes:$HASHES; do
    got=$(node -p "require('./node_modules/${p%%:*}/package.json').version")
    [[ $got == "${p##*:}" ]] || { echo "vendor-web: ${p%%:*} is $got, not ${p##*:}" >&2; exit 1; }
done

# Only what web/crypto.js and web/totp.js use, so the page stays small.
cat >ciphers.mjs <<'JS'
export { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
JS
cat >hashes.mjs <<'JS'
export { hkdf } from '@noble/hashes/hkdf.js';
export { hmac } from '@noble/hashes/hmac.js';
export { sha256, sha512 } from '@noble/hashes/sha2.js';
export { sha1 } from '@noble/hashes/legacy.js';
JS
bundle() {
    ./node_modules/.bin/esbuild "$1" --bundle --format=esm --target=es2020 \
        --legal-comments=inline --log-level=warning --outfile="$2"
}
mkdir -p "$out"
bundle ciphers.mjs "$out/noble-ciphers.js"
bundle hashes.mjs "$out/noble-hashes.js"
cp node_modules/@serenity-kit/opaque/esm/index.js "$out/opaque.js"
cp node_modules/@serenity-kit/opaque/LICENSE "$out/LICENSE-opaque.txt"
cp node_modules/@noble/ciphers/LICENSE "$out/LICENSE-noble-ciphers.txt"
cp node_modules/@noble/hashes/LICENSE "$out/LICENSE-noble-hashes.txt"

cd "$out"
{
    echo "# @serenity-kit/opaque $OPAQUE, @noble/ciphers $CIPHERS, @noble/hashes $HASHES (esbuild $ESBUILD)"
    sha256sum noble-ciphers.js noble-hashes.js opaque.js \
        LICENSE-noble-ciphers.txt LICENSE-noble-hashes.txt LICENSE-opaque.txt
} >SHA256SUMS
echo "vendor-web: web/vendor refreshed"
cat SHA256SUMS
