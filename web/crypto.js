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

// The browser's own decoder where it has one (several times faster on 2,000
// entries); the same strict rules either way.
const nativeFromBase64 = typeof Uint8Array.fromBase64 === 'function'
  ? (text) => Uint8Array.fromBase64(text, { alphabet: 'base64url', lastChunkHandling: 'strict' })
  : null;

/** Strict: no padding, no other alphabet, no stray bits; throws otherwise. */
export function unb64url(text) {
  if (typeof text !== 'string' || text.length % 4 === 1) throw new Error('not base64url');
  if (nativeFromBase64) {
    if (text.includes('=')) throw new Error('not base64url');
    const pad = text.length % 4 === 0 ? '' : '='.repeat(4 - (text.length % 4));
    try {
      return nativeFromBase64(text + pad);
    } catch {
      throw new Error('not base64url');
    }
  }
  return unb64urlJs(text);
}

export function unb64urlJs(text) {
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

export function concat(...parts) {
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

/** Trims characters with the Unicode White_Space property (not trim()'s set). */
export const trimName = (s) => s.replace(/^\p{White_Space}+|\p{White_Space}+$/gu, '');

/** CRYPTO.md normalise() of format 2: trim, full lowercase, then NFC. */
export const normalise = (name) => trimName(name).toLowerCase().normalize('NFC');

/** normalise_v1(): format 1's rule, without NFC (vault 0.1 hashed with it). */
export const normaliseV1 = (name) => trimName(name).toLowerCase();

// HMAC keyed with the site key, its key schedule done once per key: the
// list checks 2,000 names at login.
const keyedHmac = new WeakMap();

/** The raw 32-byte site hash of a readable name (`v1`: format 1's rule). */
export function siteHash(siteKey, name, v1 = false) {
  const n = v1 ? normaliseV1(name) : normalise(name);
  if (n === '') throw new Error('an entry needs a name');
  let base = keyedHmac.get(siteKey);
  if (!base) keyedHmac.set(siteKey, (base = hmac.create(sha256, siteKey)));
  return base.clone().update(utf8(n)).digest();
}

// --- sealed blobs ------------------------------------------------------------

const NONCE = 24;
const MIN_BLOB = 1 + NONCE + 16;

/** A sealed blob with version byte `version` (1 or 2; CRYPTO.md). */
export function seal(key, plaintext, aad, version, nonce = randomBytes(NONCE)) {
  const sealed = xchacha20poly1305(key, nonce, aad).encrypt(plaintext);
  return b64url(concat(Uint8Array.of(version), nonce, sealed));
}

/** A blob's bytes after the shape checks (version 1 or 2); throws if malformed. */
export function decodeBlob(blob) {
  const raw = typeof blob === 'string' ? unb64url(blob) : blob;
  if (raw.length < MIN_BLOB) throw new Error('sealed value too short');
  if (raw[0] !== 1 && raw[0] !== 2) throw new Error('unknown sealed value version');
  return raw;
}

export const blobVersion = (blob) => decodeBlob(blob)[0];

/**
 * The plaintext of a blob (b64url text, or its bytes from decodeBlob) of
 * version `version`, or an exception: nothing of a failing blob is ever
 * used. The version byte selects the AAD scheme, so the caller says which
 * one it built `aad` for.
 */
export function open(key, blob, aad, version) {
  const raw = decodeBlob(blob);
  if (raw[0] !== version) throw new Error('unexpected sealed value version');
  return xchacha20poly1305(key, raw.subarray(1, 1 + NONCE), aad).decrypt(raw.subarray(1 + NONCE));
}

const VAULT_KEY_AAD = utf8('vault key v1');

export const wrapVaultKey = (kek, vaultKey, nonce) => seal(kek, vaultKey, VAULT_KEY_AAD, 1, nonce);

export function unwrapVaultKey(kek, blob) {
  const key = open(kek, blob, VAULT_KEY_AAD, 1);
  if (key.length !== 32) throw new Error('the vault key is not 32 bytes');
  return key;
}

