// The server (API.md 1.1) and the flows of CRYPTO.md over it: register, log
// in, entries, change the master password, log out. The session (token and
// keys) lives only in this module's memory and is wiped by lock().
import * as c from './crypto.js';
import * as opaque from './opaque.js';
import * as en from './entry.js';
import * as mf from './manifest.js';

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** The one session: null when locked. */
let session = null;
const listeners = new Set();

/** `fn(reason)` runs when the session ends (lock, log out, expiry, 401). */
export const onLock = (fn) => listeners.add(fn);
export const isUnlocked = () => session !== null;
export const username = () => session?.username ?? null;
export const expiresAt = () => session?.expiresAt ?? 0;

async function post(path, body, token) {
  const headers = { 'Content-Type': 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(path, {
      method: 'POST',
      headers,
      body: JSON.stringify(body),
      cache: 'no-store',
      credentials: 'omit',
      redirect: 'error',
    });
  } catch {
    throw new ApiError(0, 'network', 'the server cannot be reached');
  }
  let reply = null;
  try {
    reply = await response.json();
  } catch {
    throw new ApiError(response.status, 'internal', `the server answered ${response.status} without JSON`);
  }
  if (!response.ok) {
    const err = new ApiError(response.status, reply?.error ?? 'error', reply?.message ?? `error ${response.status}`);
    if (response.status === 401 && token) lock('expired');
    throw err;
  }
  return reply;
}

/** An authenticated call of the current session. */
function authed(path, body) {
  if (!session) throw new ApiError(401, 'locked', 'the vault is locked');
  return post(path, body, session.token);
}

const wrongPassword = () => new ApiError(401, 'unauthorized', 'wrong username or master password');

/** OPAQUE registration against `start`/`finish` routes; the new KEK. */
async function opaqueRegister(password, startPath, startBody, finish, token) {
  const reg = await opaque.startRegistration(password);
  const reply = await post(startPath, { ...startBody, registration_request: reg.registrationRequest }, token);
  const done = await opaque.finishRegistration({
    clientRegistrationState: reg.clientRegistrationState,
    registrationResponse: reply.registration_response,
    password,
  });
  const kek = c.kekFromExportKey(c.unb64url(done.exportKey));
  const body = { registration_record: done.registrationRecord };
  // API 1.1: echo the id the server gave; a 1.0 server gives none.
  if (typeof reply.registration_id === 'string') body.registration_id = reply.registration_id;
  return finish(kek, body);
}

/** Creates the account; does not log in. */
export async function register(name, password, invite) {
  const extra = invite ? { invite } : {};
  const vaultKey = c.randomBytes(32);
  try {
    return await opaqueRegister(password, '/register', { username: name, ...extra }, (kek, body) =>
      post('/register/finish', { username: name, ...extra, ...body, vault_key: c.wrapVaultKey(kek, vaultKey) }),
    );
  } finally {
    vaultKey.fill(0);
  }
}

/** An OPAQUE login: the /login/finish reply and the KEK, or throws. */
async function opaqueLogin(name, password) {
  const start = await opaque.startLogin(password);
  const reply = await post('/login', { username: name, credential_request: start.startLoginRequest });
  // The marks (here and below) let tests/web/bench.mjs tell Argon2id's
  // time from ours, and ours step by step.
  performance.mark('vault:ksf-start');
  const fin = await opaque.finishLogin({
    clientLoginState: start.clientLoginState,
    loginResponse: reply.credential_response,
    password,
  });
  performance.mark('vault:ksf-end');
  if (!fin) throw wrongPassword();
  let done;
  try {
    done = await post('/login/finish', {
      login_id: reply.login_id,
      credential_finalization: fin.finishLoginRequest,
    });
  } catch (e) {
    throw e.status === 401 ? wrongPassword() : e;
  }
  return { done, kek: c.kekFromExportKey(c.unb64url(fin.exportKey)) };
}

function openSession(name, done, vaultKey) {
  session = {
    username: name,
    token: done.token,
    issuedAt: Date.now(),
    expiresAt: Date.now() + Number(done.expires_in) * 1000,
    keys: { vaultKey, siteKey: c.siteKeyFromVaultKey(vaultKey), manifestKey: mf.manifestKey(vaultKey) },
    // The last /sync snapshot and its verdict (see "sync" below).
    snap: null,
  };
}

export async function login(name, password) {
  const { done, kek } = await opaqueLogin(name, password);
  if (typeof done.vault_key !== 'string') {
    throw new ApiError(0, 'no_vault_key', 'this account has no vault key: it cannot be opened');
  }
  let vaultKey;
  try {
    vaultKey = c.unwrapVaultKey(kek, done.vault_key);
  } catch {
    throw new ApiError(0, 'bad_vault_key', 'the vault key from the server does not open: it was altered');
  } finally {
    kek.fill(0);
  }
  lock('switch');
  openSession(name, done, vaultKey);
  performance.mark('vault:session');
}

/** Ends this session locally and wipes every key; `reason` goes to listeners. */
export function lock(reason = 'locked') {
  if (!session) return;
  session.keys.vaultKey.fill(0);
  session.keys.siteKey.fill(0);
  session.keys.manifestKey.fill(0);
  session = null;
  for (const fn of listeners) fn(reason);
}

/** Ends every session of the user on the server, then locks. */
export async function logout() {
  try {
    if (session) await authed('/logout', {});
  } finally {
    lock('logged out');
  }
}

/**
 * A new master password: a fresh login with the current one (the account
 * routes want a token under 5 minutes old, and it proves the password),
 * then OPAQUE registration of the new one with the same vault key.
 */
export async function changePassword(current, next) {
  if (!session) throw new ApiError(401, 'locked', 'the vault is locked');
  const name = session.username;
  const { done } = await opaqueLogin(name, current);
  const vaultKey = session.keys.vaultKey;
  const reply = await opaqueRegister(next, '/account/password', {}, (kek, body) =>
    post('/account/password/finish', { ...body, vault_key: c.wrapVaultKey(kek, vaultKey) }, done.token),
  done.token);
  session.token = reply.token;
  session.issuedAt = Date.now();
  session.expiresAt = Date.now() + Number(reply.expires_in) * 1000;
}

// --- sync and the manifest (CRYPTO.md "Manifest", PROTOCOL.md section 11) ---
//
// The same rules as src/client/sync.rs. One snapshot of the vault (/sync
// since 0, then only what changed) serves every read, so what is shown is
// what was checked. Every write sends base_seq and the manifest of the state
// after it; a 409 on base_seq makes it sync, check, recompute and retry. A
// write never seals a manifest over a state that failed the check.

/** Tries of one write before giving up on a vault that keeps changing. */
export const MAX_ATTEMPTS = 5;

/**
 * The highest seq verified per username, for this page's life only:
 * keeps nothing in browser storage, so a reload starts again from 0 (a new
 * device, as CRYPTO.md "What it does not catch" says). Not secret.
 */
const seenSeq = new Map();
const syncListeners = new Set();

/** `fn(syncState())` runs after every check and every write. */
export const onSync = (fn) => syncListeners.add(fn);

/** {checked, failed, message}: the verdict of the current snapshot. */
export function syncState() {
  const v = session?.snap?.verdict;
  return { checked: Boolean(v), failed: Boolean(v && !v.ok), message: v && !v.ok ? v.message : '' };
}

function notify() {
  const state = syncState();
  for (const fn of syncListeners) fn(state);
}

// Syncs and writes run one at a time: each builds on the snapshot the last left.
let queue = Promise.resolve();
function serial(fn) {
  const run = queue.then(fn, fn);
  queue = run.catch(() => {});
  return run;
}

/** The session `s`, or an error if it was locked meanwhile. */
function still(s) {
  if (session !== s) throw new ApiError(401, 'locked', 'the vault is locked');
  return s;
}

const isSeq = (n) => Number.isSafeInteger(n) && n >= 0;

function validSync(a) {
  return a && isSeq(a.seq) && Array.isArray(a.entries) && Array.isArray(a.deleted)
    && (a.manifest === null || typeof a.manifest === 'string')
    && a.entries.every((e) => e && typeof e.site === 'string' && typeof e.password === 'string'
      && (e.username === null || typeof e.username === 'string') && Number.isSafeInteger(e.version));
}

/**
 * /sync since the snapshot's seq, applied and checked. Only a verified
 * snapshot is a base for a delta: after a mismatch everything is fetched
 * again, so a repaired vault verifies again.
 */
async function resync() {
  const s = still(session);
  if (s.snap && !s.snap.verdict.ok) s.snap = null;
  const answer = await authed('/sync', { since: s.snap?.seq ?? 0 });
  performance.mark('vault:synced');
  still(s);
  if (!validSync(answer)) throw new ApiError(0, 'internal', 'the server\'s /sync answer is malformed');
  const entries = s.snap?.entries ?? new Map();
  for (const site of answer.deleted) entries.delete(site);
  for (const e of answer.entries) entries.set(e.site, e);
  const seen = seenSeq.get(s.username) ?? 0;
  const verdict = mf.check(s.keys.manifestKey, answer.seq, [...entries.values()], answer.manifest, seen);
  if (verdict.ok && verdict.manifest) seenSeq.set(s.username, Math.max(seen, verdict.manifest.seq));
  s.snap = { seq: answer.seq, entries, manifest: answer.manifest, seen, verdict };
  performance.mark('vault:checked');
  notify();
}

/**
 * A write may seal a new manifest over this state: it verified, or the vault
 * never had one and this page never verified it (trust on first use).
 */
const endorsable = (snap) => snap.verdict.ok || (snap.verdict.kind === 'manifest_missing' && snap.seen === 0);

/** The entry a write leaves for its site (null after /delete), with `version` or the predicted one. */
function apply(old, path, body, version) {
  if (path === '/add') {
    return { site: body.site, username: body.username ?? null, password: body.password, version: version ?? 1 };
  }
  if (path === '/change') {
    if (!old) return null;
    return {
      ...old,
      version: version ?? old.version + 1,
      password: body.password ?? old.password,
      username: 'username' in body ? body.username : old.username,
    };
  }
  return null;
}

/** The wire entries after a write of `body` to `path`. */
function after(snap, path, body) {
  const rest = [...snap.entries.values()].filter((e) => e.site !== body.site);
  const changed = apply(snap.entries.get(body.site), path, body);
  return changed ? rest.concat([changed]) : rest;
}

/** Brings the snapshot to the state after a write that landed. */
function landed(s, path, body, reply, sealed) {
  const snap = s.snap;
  const old = snap.entries.get(body.site);
  const predicted = apply(old, path, body);
  const changed = apply(old, path, body, reply.version);
  // The server numbered as the contract says, or the manifest just sealed
  // is wrong: then forget the snapshot and check afresh next time.
  const asSealed = reply.seq === snap.seq + 1 && changed?.version === predicted?.version;
  if (changed) snap.entries.set(changed.site, changed);
  else snap.entries.delete(body.site);
  snap.seq = reply.seq;
  if (!sealed) return;
  if (!asSealed) {
    s.snap = null;
    return;
  }
  snap.manifest = sealed;
  snap.verdict = { ok: true, manifest: null };
  seenSeq.set(s.username, Math.max(seenSeq.get(s.username) ?? 0, reply.seq));
}

/** One write by the protocol above: the server's answer. */
function write(path, body) {
  return serial(async () => {
    const s = still(session);
    if (!s.snap) await resync();
    try {
      for (let i = 0; i < MAX_ATTEMPTS; i++) {
        const snap = s.snap;
        const base = snap.seq;
        const sealed = endorsable(snap) ? mf.seal(s.keys.manifestKey, mf.manifestOf(base + 1, after(snap, path, body))) : null;
        const request = { ...body, base_seq: base };
        if (sealed) request.manifest = sealed;
        try {
          const reply = await authed(path, request);
          still(s);
          landed(s, path, body, reply, sealed);
          // The server did not number as sealed: check afresh now, so the
          // banner tells the truth before the next write.
          if (!s.snap) await resync().catch(() => {});
          return reply;
        } catch (e) {
          if (e.status !== 409) throw e;
          await resync();
          // No new seq: the 409 was the entry's own (site exists, version moved on).
          if (s.snap.seq === base) throw e;
          s.merged = true;
        }
      }
      throw new ApiError(409, 'conflict', `the vault kept changing during ${MAX_ATTEMPTS} attempts of this write: try again`);
    } finally {
      if (session === s) notify();
    }
  });
}

// --- entries -----------------------------------------------------------------

/** The entries of the current snapshot, opened for the list. */
function snapshotEntries() {
  const keys = session.keys;
  const entries = [];
  let unreadable = 0;
  for (const wire of session.snap.entries.values()) {
    try {
      entries.push(en.readEntry(keys, wire, { secret: false }));
    } catch {
      unreadable++;
    }
  }
  return { entries, unreadable };
}

/** Every entry of a fresh, checked snapshot: {entries: readable ones, unreadable: count}. */
export async function loadEntries() {
  await serial(resync);
  const keys = session.keys;
  let { entries, unreadable } = snapshotEntries();
  performance.mark('vault:opened');
  for (const old of entries.filter((e) => en.needsReindex(keys, e))) {
    entries = await reindex(entries, old).catch(() => entries);
  }
  return { entries, unreadable };
}

/**
 * CRYPTO.md "Re-indexing": a format 1 entry whose name hashes elsewhere under
 * the NFC rule moves there (add, then delete); a move cut off half way is
 * finished; an entry of other content already there leaves both alone.
 */
async function reindex(entries, old) {
  en.openSecret(session.keys, old);
  const wire = en.writeEntry(session.keys, old);
  const there = entries.find((e) => e.site === wire.site);
  if (there && !(there.name === old.name && there.username === old.username && there.password === old.password)) {
    return entries;
  }
  let moved = there;
  if (!there) {
    const reply = await write('/add', wire);
    moved = { ...old, format: 2, site: wire.site, version: reply.version };
  }
  await write('/delete', { site: old.site });
  return entries.filter((e) => e !== old && e !== there).concat([moved]);
}

/**
 * After a write that had to sync first (another device wrote), the entries
 * of the snapshot it landed on, once; otherwise null (what is shown is
 * still the vault).
 */
export function mergedEntries() {
  if (!session?.merged || !session.snap) return null;
  session.merged = false;
  return snapshotEntries();
}

/** Opens an entry's sealed password (see entry.js); throws if it was altered. */
export function openSecret(entry) {
  if (!session) throw new ApiError(401, 'locked', 'the vault is locked');
  try {
    return en.openSecret(session.keys, entry);
  } catch {
    throw new ApiError(0, 'unreadable', 'this entry\'s password does not open: it was altered on the server');
  }
}

/** Adds a new entry from the editor's `fields`; the entry as stored. */
export async function addEntry(fields) {
  const entry = en.newEntry(fields);
  const wire = en.writeEntry(session.keys, entry);
  const reply = await write('/add', wire);
  return { ...entry, format: 2, site: wire.site, version: reply.version };
}

/**
 * Saves `changes` to `old` in format 2 (same name: /change with the version
 * read, so a change of this entry made elsewhere meanwhile is a 409; a new
 * name: /add under the new site, then /delete the old one).
 */
export async function saveEntry(old, changes) {
  openSecret(old);
  const entry = en.changedEntry(old, changes);
  const wire = en.writeEntry(session.keys, entry);
  if (wire.site !== old.site) {
    const reply = await write('/add', wire);
    await write('/delete', { site: old.site });
    return { ...entry, format: 2, site: wire.site, version: reply.version };
  }
  try {
    const reply = await write('/change', { ...wire, version: old.version });
    return { ...entry, format: 2, version: reply.version };
  } catch (e) {
    if (e.status === 409) e.message = 'this entry was changed elsewhere meanwhile: lock and log in again to see it';
    throw e;
  }
}

/** Moves to the trash, or back (a client flag, CRYPTO.md). */
export const trashEntry = (old, trashed) =>
  saveEntry(old, { trashed_at: trashed ? en.timestamp() : null });

/** Deletes for good. */
export async function purgeEntry(entry) {
  await write('/delete', { site: entry.site });
}
