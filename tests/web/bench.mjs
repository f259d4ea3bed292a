// The web vault's performance figures (docs/PERFORMANCE.md "Web vault"), in
// Debian's Chromium. A measurement, not a test: it asserts nothing.
//
//   VAULTD_URL=http://127.0.0.1:8080 node tests/web/bench.mjs [ENTRIES] [LOGINS]
//
// Against a running vaultd (a release build for real figures). Makes a new
// account with ENTRIES (default 2000) entries, then logs in LOGINS (default
// 5) times and prints: the Log in click to the list shown, the Argon2id part
// of it (the worker's OPAQUE finish, marked by web/api.js), what is left;
// a search keystroke's handler and next frame; what the page loads.
import { launch, openPage, createAccount, logIn, newName, BASE } from './lib.mjs';

const entries = Number(process.argv[2] ?? 2000);
const logins = Number(process.argv[3] ?? 5);
const browser = await launch();
const { page } = await openPage(browser);
const name = newName('bench');
await createAccount(page, name);
const t0 = Date.now();
await page.evaluate(async (n) => {
  const api = await import('./api.js');
  for (let i = 0; i < n; i++) {
    await api.addEntry({ type: 'login', name: `site${i}.example.org`, username: `user${i}@example.org`,
      password: `password-${i}-${'x'.repeat(16)}`, urls: [`https://site${i}.example.org/login`], folder: i % 10 ? null : 'Work' });
  }
}, entries);
console.log(`made ${entries} entries in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows = [];
for (let i = 0; i < logins; i++) {
  await page.reload();
  await logIn(page, name);
  await page.getByRole('status').filter({ hasText: `${entries} entries` }).waitFor();
  const m = await page.evaluate(() => {
    const at = (n) => performance.getEntriesByName(n).at(-1).startTime;
    return { ksf: at('vault:ksf-end') - at('vault:ksf-start'), total: at('vault:list-shown') - at('vault:login-submit') };
  });
  const total = m.total;
  rows.push({ total, ksf: m.ksf, rest: total - m.ksf });
}
const fmt = (k) => `median ${median(rows.map((r) => r[k])).toFixed(0)} ms (${rows.map((r) => r[k].toFixed(0)).join(', ')})`;
console.log(`login click -> list shown: ${fmt('total')}`);
console.log(`  of which Argon2id (OPAQUE finish in the worker): ${fmt('ksf')}`);
console.log(`  the rest (network, vault key, ${entries} entries opened, list built): ${fmt('rest')}`);

const search = await page.evaluate(async () => {
  const input = document.getElementById('search');
  const out = [];
  for (const q of ['s', 'si', 'site1', 'site19', 'site199', 'user7', 'work', 'zzz', '']) {
    const t = performance.now();
    input.value = q;
    input.dispatchEvent(new Event('input'));
    const handled = performance.now() - t;
    // Style and layout of the new list, which the browser would do next.
    void document.body.offsetHeight;
    out.push({ q, handled, laidOut: performance.now() - t });
    await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
  }
  return out;
});
for (const s of search) {
  console.log(`search "${s.q}": handler ${s.handled.toFixed(1)} ms, with style and layout ${s.laidOut.toFixed(1)} ms`);
}

// What a first visit loads: a fresh context, nothing cached.
const first = await openPage(browser);
await first.page.getByLabel('Master password', { exact: true }).waitFor();
await first.page.waitForFunction(() => performance.getEntriesByType('resource').some((r) => r.name.endsWith('/worker.js')));
await first.page.waitForTimeout(1000);
const weight = await first.page.evaluate(() =>
  [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')]
    .map((r) => ({ name: r.name.replace(location.origin, ''), body: r.encodedBodySize, decoded: r.decodedBodySize })));
const sum = (k) => weight.reduce((n, r) => n + r[k], 0);
console.log(`page weight, first visit (${weight.length} files): ${(sum('body') / 1024).toFixed(1)} KiB compressed, ${(sum('decoded') / 1024).toFixed(1)} KiB unpacked`);
console.log(`server: ${BASE}`);
await browser.close();
