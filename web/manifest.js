// docs/CRYPTO.md "Manifest (version 1)" in JavaScript, byte for byte as
// src/client/manifest.rs: the key, the digest of every entry as the server
// stores it, sealing and opening, and the check of what /sync served. One
// job: it never touches the network, the DOM or any storage.
//
//   manifest key = HKDF-SHA256(vault key, salt = none, "vault manifest v1")
//   digest       = SHA-256("vault manifest digest v1" ‖ 00 ‖ u64(n) ‖ E_1 … E_n)
//     E_i        = lp(site) ‖ i64(version) ‖ U ‖ lp(password), sites in byte order
//     U          = 00 (username null) | 01 ‖ lp(username)
//   plaintext    = i64(seq) ‖ u64(n) ‖ digest                         48 bytes
//   manifest     = b64url(01 ‖ nonce ‖ XChaCha20-Poly1305(key, plaintext, aad))
import { xchacha20poly1305 } from './vendor/noble-ciphers.js';
import { hkdf, sha256 } from './vendor/noble-hashes.js';
import { b64url, unb64url, randomBytes, utf8, concat, equalBytes } from './crypto.js';

const INFO = utf8('vault manifest v1');
const AAD = utf8('vault manifest v1');
const DOMAIN = utf8('vault manifest digest v1');
const NONCE = 24;
const PLAINTEXT = 48;
const SEALED = 1 + NONCE + PLAINTEXT + 16;

/** The 32-byte manifest key of a vault key. */
export const manifestKey = (vaultKey) => hkdf(sha256, vaultKey, undefined, INFO, 32);

function u64(n) {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n));
  return b;
}

function i64(n) {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigInt64(0, BigInt(n));
  return b;
}

/** Compares two byte strings (the order of `site`'s UTF-8 bytes). */
function byteOrder(x, y) {
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

/** The digest of wire entries {site, version, username, password}, any order. */
export function digest(entries) {
  // Each string encoded once, then one buffer hashed at once: a write
  // digests every entry (2,000 entries: ~1.6 MB), and this took 30 ms there
  // in Node against 77 ms for one small update per field.
  const parts = entries.map((e) => ({
    e,
    site: utf8(e.site),
    username: e.username === null || e.username === undefined ? null : utf8(e.username),
    password: utf8(e.password),
  }));
  parts.sort((a, b) => byteOrder(a.site, b.site));
  let size = DOMAIN.length + 1 + 8;
  for (const p of parts) size += 4 + p.site.length + 8 + 1 + (p.username ? 4 + p.username.length : 0) + 4 + p.password.length;
  const buf = new Uint8Array(size);
  const view = new DataView(buf.buffer);
  buf.set(DOMAIN, 0);
  let o = DOMAIN.length + 1; // then the 0x00 byte, already zero
  view.setBigUint64(o, BigInt(parts.length));
  o += 8;
  const lp = (bytes) => {
    view.setUint32(o, bytes.length);
    buf.set(bytes, o + 4);
    o += 4 + bytes.length;
  };
  for (const p of parts) {
    lp(p.site);
    view.setBigInt64(o, BigInt(p.e.version));
    o += 8;
    if (p.username) {
      buf[o++] = 1;
      lp(p.username);
    } else {
      buf[o++] = 0;
    }
    lp(p.password);
  }
  return sha256(buf);
}

/** What a manifest says: {seq, count, digest} of the vault at `seq`. */
export const manifestOf = (seq, entries) => ({ seq, count: entries.length, digest: digest(entries) });

/** Seals `m` under `key` (a fresh nonce unless the test vectors give one). */
export function seal(key, m, nonce = randomBytes(NONCE)) {
  const plain = concat(i64(m.seq), u64(m.count), m.digest);
  return b64url(concat(Uint8Array.of(1), nonce, xchacha20poly1305(key, nonce, AAD).encrypt(plain)));
}

/** Opens a sealed manifest; null if it is not one sealed under `key`. */
export function open(key, blob) {
  let raw;
  try {
    raw = unb64url(blob);
  } catch {
    return null;
  }
  if (raw.length !== SEALED || raw[0] !== 1) return null;
  let p;
  try {
    p = xchacha20poly1305(key, raw.subarray(1, 1 + NONCE), AAD).decrypt(raw.subarray(1 + NONCE));
  } catch {
    return null;
  }
  const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
  return { seq: Number(v.getBigInt64(0)), count: Number(v.getBigUint64(8)), digest: p.slice(16) };
}

// The CLI's messages (src/client/manifest.rs Mismatch), one line each.
const BY_SCRIPT = 'the server altered the vault, or a client that keeps no manifest (a script?) wrote to it; '
  + 'if the entries are right, run `vault verify --reseal`';
const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;

export const MESSAGES = {
  entry_missing: (d) => `${plural(d.missing, 'entry is', 'entries are')} missing from the vault (against its manifest of seq ${d.manifestSeq}): ${BY_SCRIPT}`,
  entry_changed: (d) => `an entry was changed or rolled back (against the manifest of seq ${d.manifestSeq}): ${BY_SCRIPT}`,
  entry_added: (d) => `${plural(d.added, 'entry is', 'entries are')} in the vault that its manifest of seq ${d.manifestSeq} does not list (added, or deleted and back): ${BY_SCRIPT}`,
  vault_older: (d) => `the vault is older than this device last saw (seq ${d.served}, seen ${d.seen}): the server rolled it back; `
    + 'if it was restored from a backup on purpose, run `vault verify --reseal`',
  seq_ahead: (d) => `the vault is at seq ${d.seq} but its manifest at seq ${d.manifestSeq}: ${BY_SCRIPT}`,
  manifest_missing: (d) => `the vault has no manifest (seq ${d.seq}): it was written only by clients that keep none, `
    + 'or the server removed it; if the entries are right, run `vault verify --reseal`',
  manifest_unreadable: () => 'the vault\'s manifest does not open with this account\'s key: the server altered or replaced it; '
    + 'if the entries are right, run `vault verify --reseal`',
};

const fail = (kind, details = {}) => ({ ok: false, kind, message: MESSAGES[kind](details), ...details });

/**
 * CRYPTO.md "Checking", in its order: what the server served (`seq`, every
 * wire entry, its manifest string or null) against the manifest and `seen`,
 * the highest seq this session verified. {ok: true, manifest} (null for a
 * vault never written) or {ok: false, kind, message, ...}.
 */
export function check(key, seq, entries, manifest, seen) {
  if (seq < seen) return fail('vault_older', { seen, served: seq });
  if (manifest === null || manifest === undefined) {
    if (seq === 0 && entries.length === 0) return { ok: true, manifest: null };
    return fail('manifest_missing', { seq });
  }
  const m = open(key, manifest);
  if (!m) return fail('manifest_unreadable');
  if (m.seq > seq) return fail('vault_older', { seen: m.seq, served: seq });
  if (m.seq < seen) return fail('vault_older', { seen, served: m.seq });
  const manifestSeq = m.seq;
  if (entries.length < m.count) return fail('entry_missing', { missing: m.count - entries.length, manifestSeq });
  if (entries.length > m.count) return fail('entry_added', { added: entries.length - m.count, manifestSeq });
  if (!equalBytes(digest(entries), m.digest)) return fail('entry_changed', { manifestSeq });
  if (m.seq !== seq) return fail('seq_ahead', { manifestSeq, seq });
  return { ok: true, manifest: m };
}
