// Issue 18: over `--tls auto` HTTPS, with Chromium trusting the server's
// certificate, the web vault is a secure context, installs as an app (a web
// manifest with 192 and 512 px PNG icons) and its service worker keeps the
// app's own files only, so that with vaultd gone the page still loads and
// asks to log in. tests/web.rs starts the server (VAULTD_URL, VAULTD_CA,
// VAULTD_PID) and lets this file kill it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect } from 'node:tls';
import { createConnection } from 'node:net';
import { launch, openPage, assertClean, createAccount } from './lib.mjs';

const BASE = process.env.VAULTD_URL;
const url = new URL(BASE);

/**
 * The base64 SHA-256 of the server certificate's SPKI, read over a TLS
 * connection that verifies against vaultd's own CA (so a wrong chain fails
 * here, before Chromium is told to trust the key).
 */
function serverSpki() {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: Number(url.port), servername: url.hostname,
      ca: readFileSync(process.env.VAULTD_CA) }, () => {
      const spki = socket.getPeerX509Certificate().publicKey.export({ type: 'spki', format: 'der' });
      socket.end();
      resolve(createHash('sha256').update(spki).digest('base64'));
    });
    socket.on('error', reject);
  });
}

const browser = await launch([`--ignore-certificate-errors-spki-list=${await serverSpki()}`]);
after(() => browser.close());

test('secure context, installable, and the app opens with the server gone', async () => {
  const { context, page, problems } = await openPage(browser, { url: `${BASE}/web/` });
  assert.equal(await page.evaluate(() => window.isSecureContext), true, 'the web vault is a secure context');
  // The service worker registers and takes the page over.
  const sw = await page.evaluate(async () => {
    const reg = await navigator.serviceWorker.ready;
    for (let i = 0; i < 100 && !navigator.serviceWorker.controller; i++) await new Promise((r) => setTimeout(r, 50));
    return { script: reg.active.scriptURL, scope: reg.scope };
  });
  assert.equal(sw.script, `${BASE}/web/sw.js`);
  assert.equal(sw.scope, `${BASE}/web/`);
  // The web manifest, with its PNG icons of the sizes it names.
  const app = await page.evaluate(async () => {
    const link = document.querySelector('link[rel=manifest]');
    const m = await (await fetch(link.href)).json();
    const icons = [];
    for (const icon of m.icons.filter((i) => i.type === 'image/png')) {
      const response = await fetch(new URL(icon.src, link.href));
      const b = new DataView(await response.arrayBuffer());
      icons.push({ sizes: icon.sizes, type: response.headers.get('Content-Type'),
        png: b.getUint32(0) === 0x89504e47, width: b.getUint32(16), height: b.getUint32(20) });
    }
    return { name: m.name, start: m.start_url, scope: m.scope, display: m.display, icons };
  });
  assert.deepEqual(app, {
    name: 'vaultd web vault', start: '/web/', scope: '/web/', display: 'standalone', icons: [
      { sizes: '192x192', type: 'image/png', png: true, width: 192, height: 192 },
      { sizes: '512x512', type: 'image/png', png: true, width: 512, height: 512 },
    ],
  });
  // Using the vault (register, log in, an entry) puts nothing but app files in the cache.
  await createAccount(page, `offline-${process.pid}`);
  await page.getByRole('button', { name: 'New entry', exact: true }).click();
  await page.getByLabel('Name', { exact: true }).fill('cached.example');
  await page.getByLabel('Password', { exact: true }).fill('never-cached-pw');
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await page.getByRole('button', { name: 'Edit', exact: true }).waitFor();
  const cached = await page.evaluate(async () => {
    const out = [];
    for (const name of await caches.keys()) {
      for (const req of await (await caches.open(name)).keys()) out.push(new URL(req.url).pathname);
    }
    return out.sort();
  });
  assert.ok(cached.includes('/web/') && cached.includes('/web/vendor/opaque.js'), cached.join(' '));
  for (const path of cached) assert.match(path, /^\/web\/[\w./-]*$/, `only app files are cached: ${path}`);
  // The server goes away; the network to it is gone.
  process.kill(Number(process.env.VAULTD_PID), 'SIGKILL');
  const probe = () => new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port: Number(url.port) });
    socket.on('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.on('error', (e) => resolve(e.code));
  });
  // SIGKILL is asynchronous: the listening socket closes when the process is
  // gone. Until then a connection may still be taken into its backlog, and
  // reset as the socket closes.
  let refused = await probe();
  for (let i = 0; i < 50 && (refused === 'connected' || refused === 'ECONNRESET'); i++) {
    await new Promise((r) => setTimeout(r, 100));
    refused = await probe();
  }
  assert.equal(refused, 'ECONNREFUSED', 'nothing listens on the server\'s port any more');
  const offline = await context.newPage();
  offline.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  const response = await offline.goto(`${BASE}/web/`);
  assert.equal(response.fromServiceWorker(), true, 'the page came from the service worker');
  await offline.getByLabel('Username', { exact: true }).waitFor();
  await offline.getByLabel('Master password', { exact: true }).waitFor();
  await offline.getByRole('button', { name: 'Log in', exact: true }).waitFor();
  assert.equal(await offline.evaluate(() => window.isSecureContext), true);
  assertClean(problems);
});
