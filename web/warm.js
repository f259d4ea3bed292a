// Warming up the JavaScript engine for a login. It compiles a function to
// fast code only after running it a while, so the first 2,000 entries of a
// vault opened (and digested for the manifest check, and sorted into the
// list) about twice as slowly as the next 2,000. This runs the same code on
// made-up entries under a throwaway key while the user types the password,
// a little per task so that typing stays smooth. Nothing of a vault is
// involved, and the list built here is never shown.
import { randomBytes, siteKeyFromVaultKey } from './crypto.js';
import { readEntry, writeEntry, newEntry } from './entry.js';
import { digest } from './manifest.js';
import { listView } from './views/list.js';

/** Made-up entries, and how many times each is opened: a few hundred calls in all. */
const ENTRIES = 16;
const ROUNDS = 25;
/** Entries of the made-up list: enough calls to compile its sorting. */
const LISTED = 500;

let running = null;

/** Made-up wire entries under a throwaway key: {keys, wires}. */
function madeUp() {
  const vaultKey = randomBytes(32);
  const keys = { vaultKey, siteKey: siteKeyFromVaultKey(vaultKey) };
  const wires = [];
  for (let i = 0; i < ENTRIES; i++) {
    const entry = newEntry({ name: `warm-up ${i}.example`, username: `someone${i}@example`, password: `pw-${i}`,
      urls: [`https://warm-up${i}.example/`], folder: i % 2 ? 'Folder' : null });
    wires.push({ ...writeEntry(keys, entry), version: i + 1, updated_at: '2026-01-01T00:00:00Z' });
  }
  return { keys, wires };
}

const nextTask = () => new Promise((resolve) => setTimeout(resolve, 0));

async function run() {
  await nextTask();
  const { keys, wires } = madeUp();
  try {
    for (let r = 0; r < ROUNDS; r++) {
      await nextTask();
      for (const wire of wires) readEntry(keys, wire, { secret: false });
      digest(wires);
    }
    await nextTask();
    const listed = Array.from({ length: LISTED }, (_, i) => ({ ...newEntry({ name: `warm-up ${(i * 7) % LISTED}.example` }),
      username: `someone${i}@example`, urls: [`https://warm-up${i}.example/`] }));
    listView({ entries: listed, unreadable: 0, query: '' }, {}).close();
  } finally {
    keys.vaultKey.fill(0);
    keys.siteKey.fill(0);
  }
  // tests/web/bench.mjs waits for this before it logs in, as a person typing would.
  performance.mark('vault:warm');
}

/** Starts a warm-up unless one is running; a promise of its end (never rejects). */
export function warmUp() {
  running ??= run().catch(() => {}).finally(() => (running = null));
  return running;
}
