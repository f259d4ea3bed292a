// The entry formats of docs/CRYPTO.md: format 2 (read and written) and
// format 1 (vault 0.1; read only, rewritten as format 2 when edited). An
// entry in memory is the format 2 document's members, plus `password`, the
// wire `site` and `version`, and the members this client does not know
// (kept and written back unchanged).
import * as c from './crypto.js';

export const MAX_DOC = 24_535;
export const MAX_SECRET = 6_000;
export const MAX_NAME = 512;
export const MAX_HISTORY = 10;
export const TYPES = ['login', 'note', 'card', 'identity'];
export const CARD = ['cardholder', 'brand', 'number', 'expiry', 'code'];
export const IDENTITY = ['title', 'first_name', 'middle_name', 'last_name', 'company', 'email', 'phone',
  'address1', 'address2', 'address3', 'city', 'state', 'postal_code', 'country', 'ssn',
  'passport_number', 'license_number'];

/** The document's members in the order writers emit them, with defaults. */
const DOC = [
  ['v', null], ['type', null], ['name', null], ['username', null], ['urls', []], ['notes', null],
  ['totp', null], ['fields', []], ['folder', null], ['favourite', false], ['created', ''],
  ['updated', ''], ['history', []], ['trashed_at', null],
];
const KNOWN = new Set([...DOC.map(([k]) => k), 'card', 'identity']);

/** RFC 3339 UTC with seconds: YYYY-MM-DDTHH:MM:SSZ. */
export const timestamp = (ms = Date.now()) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** "vault field v{version}" ‖ 00 ‖ site hash ‖ 00 ‖ field: the AAD of an entry's blob. */
function aad(version, hash, field) {
  const head = AAD_HEAD[version];
  const tail = AAD_TAIL[field] ?? c.concat(Uint8Array.of(0), c.utf8(field));
  const out = new Uint8Array(head.length + hash.length + tail.length);
  out.set(head, 0);
  out.set(hash, head.length);
  out.set(tail, head.length + hash.length);
  return out;
}
// Their constant parts, encoded once: the list opens 2,000 entries at login.
const AAD_HEAD = { 1: c.utf8('vault field v1\0'), 2: c.utf8('vault field v2\0') };
const AAD_TAIL = { username: c.utf8('\0username'), password: c.utf8('\0password') };

const isStr = (v) => typeof v === 'string';
const isStrOrNull = (v) => v === null || typeof v === 'string';

function check(ok, what) {
  if (!ok) throw new Error(`entry member ${what} is malformed`);
}

/** A format 2 document as read: every known member checked, defaults filled. */
function fromDoc(doc) {
  check(typeof doc === 'object' && doc !== null && !Array.isArray(doc), 'document');
  check(doc.v === 2, 'v');
  check(isStr(doc.type) && isStr(doc.name), 'type/name');
  const e = {};
  for (const [k, def] of DOC) e[k] = k in doc ? doc[k] : Array.isArray(def) ? [] : def;
  check(isStrOrNull(e.username) && isStrOrNull(e.notes) && isStrOrNull(e.totp), 'username/notes/totp');
  check(isStrOrNull(e.folder) && isStrOrNull(e.trashed_at), 'folder/trashed_at');
  check(Array.isArray(e.urls) && e.urls.every(isStr), 'urls');
  check(Array.isArray(e.fields) && e.fields.every((f) => f && isStr(f.name) && isStr(f.value)
    && (f.hidden === undefined || typeof f.hidden === 'boolean')), 'fields');
  e.fields = e.fields.map((f) => ({ name: f.name, value: f.value, hidden: f.hidden ?? false }));
  check(Array.isArray(e.history) && e.history.every((h) => h && isStr(h.password) && isStr(h.replaced_at)), 'history');
  check(typeof e.favourite === 'boolean' && isStr(e.created) && isStr(e.updated), 'favourite/created/updated');
  for (const [k, names] of [['card', CARD], ['identity', IDENTITY]]) {
    if (!(k in doc)) continue;
    check(typeof doc[k] === 'object' && doc[k] !== null, k);
    e[k] = Object.fromEntries(names.map((n) => [n, doc[k][n] ?? null]));
    check(names.every((n) => isStrOrNull(e[k][n])), k);
  }
  const unknown = Object.keys(doc).some((k) => !KNOWN.has(k));
  e.extra = unknown ? Object.fromEntries(Object.entries(doc).filter(([k]) => !KNOWN.has(k))) : {};
  return e;
}

/** The document JSON of an entry, members in CRYPTO.md's order. */
export function docJson(e) {
  const doc = {};
  for (const [k] of DOC) doc[k] = k === 'v' ? 2 : e[k];
  if (e.type === 'card' || e.card) doc.card = Object.fromEntries(CARD.map((n) => [n, e.card?.[n] ?? null]));
  if (e.type === 'identity' || e.identity) {
    doc.identity = Object.fromEntries(IDENTITY.map((n) => [n, e.identity?.[n] ?? null]));
  }
  for (const [k, v] of Object.entries(e.extra ?? {})) if (!(k in doc)) doc[k] = v;
  return JSON.stringify(doc);
}

const secretJson = (e) => JSON.stringify({ password: e.password, ...withoutPassword(e.extraSecret) });
const withoutPassword = (o = {}) => Object.fromEntries(Object.entries(o).filter(([k]) => k !== 'password'));

/**
 * A wire entry opened, after every check CRYPTO.md asks for; throws when any
 * fails (the caller counts the entry as unreadable).
 */
export function readEntry(keys, wire, { secret = true } = {}) {
  const hash = c.unb64url(wire.site);
  if (hash.length !== 32) throw new Error('site is not a 32-byte hash');
  if (!isStr(wire.username)) throw new Error('entry without a sealed username');
  const userBlob = c.decodeBlob(wire.username);
  const format = userBlob[0];
  if (c.decodeBlob(wire.password)[0] !== format) throw new Error('the two fields of the entry differ in format');
  const openJson = (blob, field) => JSON.parse(c.fromUtf8(c.open(keys.vaultKey, blob, aad(format, hash, field), format)));
  const meta = openJson(userBlob, 'username');
  let e;
  if (format === 1) {
    check(meta && isStr(meta.site) && isStrOrNull(meta.username ?? null), 'format 1 metadata');
    e = fromDoc({ v: 2, type: 'login', name: meta.site, username: meta.username ?? null,
      created: wire.updated_at ?? '', updated: wire.updated_at ?? '' });
  } else {
    e = fromDoc(meta);
  }
  if (!c.equalBytes(c.siteHash(keys.siteKey, e.name, format === 1), hash)) {
    throw new Error('entry name does not match its site');
  }
  // e is fromDoc's own new object: completed in place.
  Object.assign(e, { format, site: wire.site, version: wire.version, updatedAt: wire.updated_at,
    sealed: wire.password, password: undefined, extraSecret: undefined });
  if (secret) openSecret(keys, e);
  return e;
}

/**
 * Opens the `password` field of an entry read with {secret: false}: the list
 * needs only the documents, so at login 2,000 passwords stay sealed until
 * their entry is opened. Throws (and leaves the entry sealed) if it fails.
 */
export function openSecret(keys, entry) {
  if (entry.password !== undefined) return entry;
  // `sealed` is the wire `password`, kept as text: its shape and format were
  // checked by readEntry, and c.open checks the format again.
  const hash = c.unb64url(entry.site);
  const plain = c.fromUtf8(c.open(keys.vaultKey, entry.sealed, aad(entry.format, hash, 'password'), entry.format));
  if (entry.format === 1) {
    entry.password = plain;
    entry.extraSecret = {};
  } else {
    const secret = JSON.parse(plain);
    check(secret && isStr(secret.password), 'password');
    entry.password = secret.password;
    entry.extraSecret = withoutPassword(secret);
  }
  return entry;
}

function limits(e) {
  for (const [what, v] of [['name', e.name], ['folder', e.folder ?? '']]) {
    if (c.utf8(v).length > MAX_NAME) throw new Error(`the ${what} is too long: at most ${MAX_NAME} bytes`);
    if (/\p{Cc}/u.test(v)) throw new Error(`the ${what} may not hold control characters`);
  }
}

/**
 * The wire form {site, username, password} of an entry, in format 2. When
 * the document is too large only because of its history, the oldest
 * passwords are dropped first. `nonces` is for the test vectors only.
 */
export function writeEntry(keys, entry, nonces = {}) {
  const e = { ...entry, name: c.trimName(entry.name), history: [...(entry.history ?? [])] };
  limits(e);
  let doc = c.utf8(docJson(e));
  while (doc.length > MAX_DOC && e.history.length > 0) {
    e.history.pop();
    doc = c.utf8(docJson(e));
  }
  if (doc.length > MAX_DOC) throw new Error(`the entry's text is too large: ${doc.length} bytes, at most ${MAX_DOC}`);
  const secret = c.utf8(secretJson(e));
  if (secret.length > MAX_SECRET) throw new Error(`the password is too large: ${secret.length} bytes, at most ${MAX_SECRET}`);
  const hash = c.siteHash(keys.siteKey, e.name);
  return {
    site: c.b64url(hash),
    username: c.seal(keys.vaultKey, doc, aad(2, hash, 'username'), 2, nonces.username),
    password: c.seal(keys.vaultKey, secret, aad(2, hash, 'password'), 2, nonces.password),
  };
}

/** A new entry from what the editor gives. */
export function newEntry(fields, now = Date.now()) {
  const e = fromDoc({ v: 2, type: fields.type ?? 'login', name: fields.name });
  Object.assign(e, fields, { created: timestamp(now), updated: timestamp(now), history: [], trashed_at: null });
  e.extra = {};
  e.extraSecret = {};
  return e;
}

/** `old` with `changes`: `updated` set, a replaced password into history. */
export function changedEntry(old, changes, now = Date.now()) {
  const e = { ...old, ...changes, updated: timestamp(now) };
  if ('password' in changes && changes.password !== old.password && old.password !== '') {
    e.history = [{ password: old.password, replaced_at: timestamp(now) }, ...old.history].slice(0, MAX_HISTORY);
  }
  return e;
}

/** A format 1 entry whose name hashes elsewhere under the NFC rule. */
export function needsReindex(keys, e) {
  return e.format === 1 && c.b64url(c.siteHash(keys.siteKey, e.name)) !== e.site;
}

/** What a search looks at, lowercased once. */
export function searchText(e) {
  return [e.name, e.username ?? '', ...e.urls, e.folder ?? ''].join('\n').toLowerCase();
}
