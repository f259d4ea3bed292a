// RFC 6238 TOTP codes from an otpauth:// URI or a bare base32 secret
// (SHA-1, SHA-256 or SHA-512; 6 to 8 digits; any period).
import { hmac, sha1, sha256, sha512 } from './vendor/noble-hashes.js';

const HASHES = { SHA1: sha1, SHA256: sha256, SHA512: sha512 };
const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export function base32(text) {
  const clean = text.replace(/[\s-]/g, '').replace(/=+$/, '').toUpperCase();
  const out = [];
  let acc = 0;
  let bits = 0;
  for (const ch of clean) {
    const v = B32.indexOf(ch);
    if (v < 0) throw new Error('the TOTP secret is not base32');
    acc = (acc << 5) | v;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((acc >> bits) & 255);
    }
  }
  if (out.length === 0) throw new Error('the TOTP secret is empty');
  return Uint8Array.from(out);
}

/** {key, hash, digits, period} of what the user stored; throws if malformed. */
export function parseTotp(text) {
  const t = text.trim();
  if (!/^otpauth:/i.test(t)) return { key: base32(t), hash: sha1, digits: 6, period: 30 };
  const url = new URL(t);
  if (url.host.toLowerCase() !== 'totp') throw new Error('only time-based (totp) codes are supported');
  const p = url.searchParams;
  const hash = HASHES[(p.get('algorithm') ?? 'SHA1').toUpperCase()];
  const digits = Number(p.get('digits') ?? 6);
  const period = Number(p.get('period') ?? 30);
  if (!hash) throw new Error('unknown TOTP algorithm');
  if (!(digits >= 6 && digits <= 8)) throw new Error('TOTP digits must be 6 to 8');
  if (!(Number.isInteger(period) && period > 0)) throw new Error('bad TOTP period');
  return { key: base32(p.get('secret') ?? ''), hash, digits, period };
}

/** The code at `now` (ms) and the seconds it stays valid. */
export function totpCode(params, now = Date.now()) {
  const counter = Math.floor(now / 1000 / params.period);
  const msg = new Uint8Array(8);
  new DataView(msg.buffer).setBigUint64(0, BigInt(counter));
  const mac = hmac(params.hash, params.key, msg);
  const o = mac[mac.length - 1] & 15;
  const bin = ((mac[o] & 127) << 24) | (mac[o + 1] << 16) | (mac[o + 2] << 8) | mac[o + 3];
  const code = String(bin % 10 ** params.digits).padStart(params.digits, '0');
  const left = params.period - (Math.floor(now / 1000) % params.period);
  return { code, left };
}
