// The web vault's service worker: it keeps a copy of the app's
// own files, so that in a secure context the installed app opens without
// the network and asks to log in. It never sees vault data or a key: it
// answers only GET requests for the files listed below, under /web/ of this
// origin; /sync, /login and every other API call (all POST) and any other
// path pass it by untouched, and nothing it stores comes from them.
//
// Network first: online, every file comes from the server as before (a new
// server version is seen at once; the HTML stays no-store for the HTTP
// cache); the copy is used only when the server cannot be reached.

const CACHE = 'vaultd-web-v1';

// Every file of src/web.rs's table (its unit test checks the two agree),
// relative to /web/; '' is the page itself.
const FILES = [
  '', 'index.html', 'https.html', 'app.css', 'icon.svg', 'icon-192.png', 'icon-512.png',
  'app.webmanifest', 'app.js', 'api.js', 'crypto.js', 'entry.js', 'manifest.js', 'dom.js',
  'opaque.js', 'worker.js', 'warm.js', 'generate.js', 'words.txt', 'totp.js',
  'views/login.js', 'views/list.js', 'views/entry.js', 'views/editor.js', 'views/account.js',
  'vendor/opaque.js', 'vendor/noble-ciphers.js', 'vendor/noble-hashes.js',
  'vendor/LICENSE-opaque.txt', 'vendor/LICENSE-noble-ciphers.txt', 'vendor/LICENSE-noble-hashes.txt',
  'vendor/SHA256SUMS',
];

const BASE = new URL('./', self.location).pathname; // '/web/'
const OURS = new Set(FILES.map((f) => BASE + f));

/** The app file a request is for (its path), or null: then it is none of ours. */
function ours(request) {
  if (request.method !== 'GET') return null;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || url.search !== '' || !OURS.has(url.pathname)) return null;
  return url.pathname;
}

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    // cache: 'no-cache' revalidates, so the copy is what the server serves now.
    await cache.addAll(FILES.map((f) => new Request(BASE + f, { cache: 'no-cache', credentials: 'omit' })));
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) if (name !== CACHE) await caches.delete(name);
    await self.clients.claim();
  })());
});

self.addEventListener('fetch', (event) => {
  const path = ours(event.request);
  if (!path) return; // not ours: the browser fetches it as if there were no worker
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    try {
      const response = await fetch(event.request);
      if (response.ok) await cache.put(path, response.clone());
      return response;
    } catch (e) {
      const copy = await cache.match(path);
      if (copy) return copy;
      throw e;
    }
  })());
});
