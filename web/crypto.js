// docs/CRYPTO.md in JavaScript: keys, sealed blobs and the entry format.
// One implementation, checked against CRYPTO.md's test vectors in the
// browser (tests/web/vectors.test.mjs). Nothing here touches the DOM, the
// network or any storage; the only thing taken from the browser is
// crypto.getRandomValues, so it works without a secure context.
import { xchacha20poly1305 } from './vendor/noble-ciphers.js';
import { hkdf, hmac, sha256 } from './vendor/noble-hashes.js';

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

export const utf8 = (s) => enc.encode(s);
export const fromUtf8 = (b) => dec.decode(b);

export function randomBytes(n) {
  const out = new Uint8Array(n);
  crypto.getRandomValues(out);
  return out;
}

// --- base64url without padding (RFC 4648 §5) -------------------------------

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const B64_INDEX = new Int16Array(128).fill(-1);
for (let i = 0; i < 64; i++) B64_INDEX[B64.charCodeAt(i)] = i;

export function b64url(bytes) {
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += B64[n >> 18] + B64[(n >> 12) & 63] + B64[(n >> 6) & 63] + B64[n & 63];
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i] << 16;
    out += B64[n >> 18] + B64[(n >> 12) & 63];
  } else if (rest === 2) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8);
    out += B64[n >> 18] + B64[(n >> 12) & 63] + B64[(n >> 6) & 63];
  }
  return out;
}

/** Strict: no padding, no other alphabet, no stray bits; throws otherwise. */
export function unb64url(text) {
  if (typeof text !== 'string' || text.length % 4 === 1) throw new Error('not base64url');
  const out = new Uint8Array(Math.floor((text.length * 3) / 4));
  let bits = 0;
  let acc = 0;
  let o = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const v = c < 128 ? B64_INDEX[c] : -1;
    if (v < 0) throw new Error('not base64url');
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 255;
    }
  }
  if (acc & ((1 << bits) - 1)) throw new Error('not base64url');
  return out;
}

export function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

// --- keys ------------------------------------------------------------------

/** KEK = HKDF-SHA256(export_key, salt = none, "vault kek v1"). */
export const kekFromExportKey = (exportKey) => hkdf(sha256, exportKey, undefined, utf8('vault kek v1'), 32);

/** site key = HKDF-SHA256(vault key, salt = none, "site index v1"). */
export const siteKeyFromVaultKey = (vaultKey) => hkdf(sha256, vaultKey, undefined, utf8('site index v1'), 32);

/** CRYPTO.md normalise(): trim Unicode White_Space, full lowercase. */
export function normalise(name) {
  return name.replace(/^\p{White_Space}+|\p{White_Space}+$/gu, '').toLowerCase();
}

/** The raw 32-byte site hash of a readable name. */
export function siteHash(siteKey, name) {
  const n = normalise(name);
  if (n === '') throw new Error('an entry needs a name');
  return hmac(sha256, siteKey, utf8(n));
}

// --- sealed blobs ------------------------------------------------------------

const VERSION = 1;
const NONCE = 24;
const MIN_BLOB = 1 + NONCE + 16;

export function seal(key, plaintext, aad, nonce = randomBytes(NONCE)) {
  const sealed = xchacha20poly1305(key, nonce, aad).encrypt(plaintext);
  return b64url(concat(Uint8Array.of(VERSION), nonce, sealed));
}

/** The plaintext, or an exception: nothing of a failing blob is ever used. */
export function open(key, blob, aad) {
  const raw = unb64url(blob);
  if (raw.length < MIN_BLOB) throw new Error('sealed value too short');
  if (raw[0] !== VERSION) throw new Error('unknown sealed value version');
  return xchacha20poly1305(key, raw.subarray(1, 1 + NONCE), aad).decrypt(raw.subarray(1 + NONCE));
}

const VAULT_KEY_AAD = utf8('vault key v1');

export const wrapVaultKey = (kek, vaultKey, nonce) => seal(kek, vaultKey, VAULT_KEY_AAD, nonce);

export function unwrapVaultKey(kek, blob) {
  const key = open(kek, blob, VAULT_KEY_AAD);
  if (key.length !== 32) throw new Error('the vault key is not 32 bytes');
  return key;
}

// --- entry fields, format v1 ---------------------------------------------------

export const MAX_PLAINTEXT = 6000;

function fieldAad(hash, field) {
  return concat(utf8('vault field v1'), Uint8Array.of(0), hash, Uint8Array.of(0), utf8(field));
}

/**
 * The wire form {site, username, password} of an entry {name, username,
 * password}. `nonces` is for the test vectors only.
 */
export function sealEntry(keys, entry, nonces = {}) {
  if (entry.urls?.length || entry.notes || entry.totp) {
    // Format v1 has no room for them: refuse rather than drop them.
    throw new Error('URLs, notes and TOTP secrets need entry format v2, which this version cannot write yet');
  }
  const name = entry.name.replace(/^\p{White_Space}+|\p{White_Space}+$/gu, '');
  const hash = siteHash(keys.siteKey, name);
  const meta = utf8(JSON.stringify({ site: name, username: entry.username ?? null }));
  const password = utf8(entry.password);
  if (meta.length > MAX_PLAINTEXT || password.length > MAX_PLAINTEXT) {
    throw new Error(`an entry may hold at most ${MAX_PLAINTEXT} bytes per field`);
  }
  if (password.length === 0) throw new Error('an entry needs a password');
  return {
    site: b64url(hash),
    username: seal(keys.vaultKey, meta, fieldAad(hash, 'username'), nonces.username),
    password: seal(keys.vaultKey, password, fieldAad(hash, 'password'), nonces.password),
  };
}

/**
 * The readable entry of a wire entry, after every check CRYPTO.md asks for;
 * throws when any fails (the caller shows the entry as unreadable).
 */
export function openEntry(keys, wire) {
  const hash = unb64url(wire.site);
  if (hash.length !== 32) throw new Error('site is not a 32-byte hash');
  if (typeof wire.username !== 'string') throw new Error('entry without a sealed username');
  const meta = JSON.parse(fromUtf8(open(keys.vaultKey, wire.username, fieldAad(hash, 'username'))));
  if (typeof meta !== 'object' || meta === null || typeof meta.site !== 'string') {
    throw new Error('entry metadata is malformed');
  }
  if (meta.username !== null && typeof meta.username !== 'string') {
    throw new Error('entry username is malformed');
  }
  if (!equalBytes(siteHash(keys.siteKey, meta.site), hash)) {
    throw new Error('entry name does not match its site');
  }
  const password = fromUtf8(open(keys.vaultKey, wire.password, fieldAad(hash, 'password')));
  return {
    site: wire.site,
    version: wire.version,
    updatedAt: wire.updated_at,
    name: meta.site,
    username: meta.username,
    password,
  };
}
