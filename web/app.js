// The web vault's controller: which view is shown, the decrypted entries in
// memory, and locking (the button, 5 minutes idle, token expiry; a reload
// locks by itself, since nothing is ever stored).
import * as api from './api.js';
import { warmUp } from './opaque.js';
import { warmUp as warmUpLogin } from './warm.js';
import { cancelClipboardClear } from './dom.js';
import { loginView } from './views/login.js';
import { listView } from './views/list.js';
import { entryView } from './views/entry.js';
import { editorView } from './views/editor.js';
import { accountView } from './views/account.js';

export const IDLE_LOCK_MS = 5 * 60 * 1000;

const root = document.getElementById('app');
/** The decrypted vault: only while unlocked; emptied on lock. */
const vault = { entries: [], unreadable: 0, query: '' };
let current = null;
let lastActivity = Date.now();
let lastUsername = '';

function show(view) {
  document.getElementById('top').hidden = !api.isUnlocked();
  current?.close?.();
  current = view;
  root.replaceChildren(view.node);
  view.focus?.();
}

// --- the views -----------------------------------------------------------------

function showLogin(reason = null, creating = false) {
  show(loginView({
    switchMode: (mode, name) => {
      lastUsername = name;
      showLogin(null, mode);
    },
    login: async (name, password) => {
      await api.login(name, password);
      lastUsername = name;
      await unlocked();
    },
    register: async (name, password, invite) => {
      await api.register(name, password, invite);
      await api.login(name, password);
      lastUsername = name;
      await unlocked();
    },
  }, { username: lastUsername, reason, creating }));
}

async function unlocked() {
  lastActivity = Date.now();
  const { entries, unreadable } = await api.loadEntries();
  vault.entries = entries;
  vault.unreadable = unreadable;
  vault.query = '';
  showList();
  performance.mark('vault:list-shown');
}

function showList() {
  show(listView(vault, {
    open: showEntry,
    add: () => showEditor(null),
    account: showAccount,
    trash: showTrash,
    search: (q) => (vault.query = q),
  }, { title: `Vault of ${api.username()}` }));
}

function showTrash() {
  show(listView({ ...vault, query: '' }, { open: showEntry, back: showList }, { title: 'Trash', trash: true }));
}

/**
 * Puts `saved` in place of `old` in memory, on top of what other devices
 * wrote if the write had to sync first (then the list is the snapshot's).
 */
function replace(old, saved) {
  const merged = api.mergedEntries();
  if (merged) {
    vault.entries = merged.entries;
    vault.unreadable = merged.unreadable;
  }
  const gone = new Set([old?.site, saved?.site]);
  vault.entries = vault.entries.filter((e) => e !== old && !gone.has(e.site));
  if (saved) vault.entries.push(saved);
}

function showEntry(entry) {
  try {
    api.openSecret(entry);
  } catch (e) {
    current?.showError?.(e.message);
    return;
  }
  show(entryView(entry, {
    edit: showEditor,
    back: (e) => (e.trashed_at ? showTrash() : showList()),
    restore: async (old) => {
      const saved = await api.trashEntry(old, false);
      replace(old, saved);
      showEntry(saved);
    },
    purge: async (old) => {
      await api.purgeEntry(old);
      replace(old, null);
      showTrash();
    },
  }));
}

function showEditor(entry) {
  show(editorView(entry, {
    save: async (old, changes) => {
      const saved = old ? await api.saveEntry(old, changes) : await api.addEntry(changes);
      replace(old, saved);
      showEntry(saved);
    },
    remove: async (old) => {
      replace(old, await api.trashEntry(old, true));
      showList();
    },
    cancel: (old) => (old ? showEntry(old) : showList()),
  }));
}

function showAccount() {
  show(accountView(api.username(), {
    back: showList,
    changePassword: (cur, next) => api.changePassword(cur, next),
  }));
}

// --- banners -------------------------------------------------------------------

/** Shown after every check that fails (api.onSync: each sync and write). */
function showManifestWarning(state) {
  const el = document.getElementById('manifest-warning');
  el.hidden = !state.failed;
  el.textContent = state.failed
    ? 'Warning: the server\'s copy of this vault does not match what your devices last wrote. ' +
      `Entries may have been removed or rolled back by the server. (${state.message})`
    : '';
}

api.onSync(showManifestWarning);

function isLoopback(host) {
  return host === 'localhost' || host.endsWith('.localhost') || /^127\./.test(host) || host === '[::1]';
}

function showInsecureBanner() {
  const el = document.getElementById('insecure');
  el.hidden = !(location.protocol === 'http:' && !isLoopback(location.hostname));
}

// --- locking ---------------------------------------------------------------------

api.onLock((reason) => {
  vault.entries = [];
  vault.unreadable = 0;
  vault.query = '';
  cancelClipboardClear();
  showManifestWarning({ failed: false });
  const why = {
    idle: 'Locked after 5 minutes without activity.',
    expired: 'The session expired: log in again.',
    'logged out': 'Logged out: every session of this account has ended.',
    locked: 'Locked.',
  }[reason];
  if (reason !== 'switch') {
    showLogin(why ?? null);
    warmUpLogin();
  }
});

for (const type of ['pointerdown', 'keydown', 'input', 'wheel', 'touchstart']) {
  window.addEventListener(type, () => (lastActivity = Date.now()), { capture: true, passive: true });
}

setInterval(() => {
  if (!api.isUnlocked()) return;
  const now = Date.now();
  // expiresAt is our own clock at login + expires_in: no skew to allow for,
  // only a request in flight.
  if (now >= api.expiresAt() - 5_000) api.lock('expired');
  else if (now - lastActivity >= IDLE_LOCK_MS) api.lock('idle');
}, 1000);

document.addEventListener('keydown', (e) => {
  // Not from the editor: Escape there would drop what was typed.
  const stay = ['vault', 'editor'].some((c) => current?.node.classList.contains(c));
  if (e.key === 'Escape' && api.isUnlocked() && current && !stay) {
    showList();
  }
});

// Lock and Log out stay on screen in every view of the open vault.
document.getElementById('lock').addEventListener('click', () => api.lock('locked'));
document.getElementById('logout').addEventListener('click', () => api.logout().catch(() => {}));

/**
 * Issue 18: in a secure context the app installs (app.webmanifest) and its
 * service worker keeps the app's own files for use without the network
 * (sw.js: never vault data, never a key). Browsers allow service workers
 * only there; over plain http nothing is registered.
 */
function registerServiceWorker() {
  if (!window.isSecureContext || !('serviceWorker' in navigator)) return;
  navigator.serviceWorker.register('sw.js', { scope: './', type: 'classic', updateViaCache: 'none' })
    .catch((e) => console.warn(`the offline copy is not available: ${e.message}`));
}

showInsecureBanner();
registerServiceWorker();
warmUp();
showLogin();
warmUpLogin();
