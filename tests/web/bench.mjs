// The web vault's performance figures (docs/PERFORMANCE.md "Web vault"), in
// Debian's Chromium. A measurement, not a test: it asserts nothing.
//
//   VAULTD_URL=http://127.0.0.1:8080 node tests/web/bench.mjs [ENTRIES] [LOGINS]
//
// Against a running vaultd (a release build for real figures). Makes a new
// account with ENTRIES (default 2000) entries, then logs in LOGINS (default
// 5) times and prints: the Log in click to the list shown and to its first
// frame painted, the Argon2id part of it (the worker's OPAQUE finish, marked
// by web/api.js), what is left and where it went; a search keystroke's
// handler and next frame; what the page loads.
//
// Each login starts from a reloaded page once the page has warmed up its code
// (the `vault:warm` mark of web/warm.js, well under a second; 3 s for a
// page without it), as when a person types the password; BENCH_NO_WAIT=1
// clicks Log in at once instead.
import { launch, openPage, createAccount, logIn, newName, BASE } from './lib.mjs';

const entries = Number(process.argv[2] ?? 2000);
const logins = Number(process.argv[3] ?? 5);
const browser = await launch();
const { page } = await openPage(browser);
const name = process.env.BENCH_ACCOUNT ?? newName('bench');
if (!process.env.BENCH_ACCOUNT) {
  await createAccount(page, name);
  const t0 = Date.now();
  await page.evaluate(async (n) => {
    const api = await import('./api.js');
    for (let i = 0; i < n; i++) {
      await api.addEntry({ type: 'login', name: `site${i}.example.org`, username: `user${i}@example.org`,
        password: `password-${i}-${'x'.repeat(16)}`, urls: [`https://site${i}.example.org/login`], folder: i % 10 ? null : 'Work' });
    }
  }, entries);
  console.log(`made ${entries} entries in ${((Date.now() - t0) / 1000).toFixed(1)} s (account ${name}; BENCH_ACCOUNT=${name} reuses it)`);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const range = (xs) => (xs.some(Number.isNaN) ? 'n/a' : `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`);
// The steps besides Argon2id, by the marks web/api.js and web/app.js set.
const STEPS = [['vault:login-submit', 'vault:ksf-start', 'submit to Argon2id (OPAQUE start, /login)'],
  ['vault:ksf-end', 'vault:session', '/login/finish, vault key'], ['vault:session', 'vault:synced', '/sync'],
  ['vault:synced', 'vault:checked', 'manifest check'], ['vault:checked', 'vault:opened', 'entries opened (after the check)'],
  ['vault:opened', 'vault:list-shown', 'list built'], ['vault:list-shown', 'bench:painted', 'to the next frame']];
const rows = [];
for (let i = 0; i < logins; i++) {
  await page.reload();
  if (!process.env.BENCH_NO_WAIT) {
    // A page without entry workers (an older vaultd) has no such mark: then 3 s.
    await page.waitForFunction(() => performance.getEntriesByName('vault:warm').length > 0, null, { timeout: 3000 })
      .catch(() => {});
  }
  // The first frame after the list is in the page: a rAF callback runs
  // before that frame's paint, the timeout after it.
  await page.evaluate(() => {
    new MutationObserver((_, o) => {
      if (performance.getEntriesByName('vault:list-shown').length === 0) return;
      o.disconnect();
      requestAnimationFrame(() => setTimeout(() => performance.mark('bench:painted'), 0));
    }).observe(document.getElementById('app'), { childList: true });
  });
  await logIn(page, name);
  await page.getByRole('status').filter({ hasText: `${entries} entries` }).waitFor();
  await page.waitForFunction(() => performance.getEntriesByName('bench:painted').length > 0);
  const m = await page.evaluate(() => {
    const at = (n) => performance.getEntriesByName(n).at(-1).startTime;
    const marks = {};
    for (const e of performance.getEntriesByType('mark')) marks[e.name] = e.startTime;
    return { ksf: at('vault:ksf-end') - at('vault:ksf-start'), total: at('vault:list-shown') - at('vault:login-submit'),
      painted: at('bench:painted') - at('vault:login-submit'), marks };
  });
  const steps = STEPS.map(([a, b]) => (m.marks[a] === undefined || m.marks[b] === undefined ? NaN : m.marks[b] - m.marks[a]));
  rows.push({ total: m.total, painted: m.painted, ksf: m.ksf, rest: m.total - m.ksf, restPainted: m.painted - m.ksf, steps });
}
const fmt = (k) => `median ${median(rows.map((r) => r[k])).toFixed(0)} ms (${rows.map((r) => r[k].toFixed(0)).join(', ')})`;
console.log(`login click -> list shown: ${fmt('total')}; -> first frame painted: ${fmt('painted')}`);
console.log(`  of which Argon2id (OPAQUE finish in the worker): ${fmt('ksf')}`);
console.log(`  the rest (network, vault key, ${entries} entries opened, list built): ${fmt('rest')}; to the frame: ${fmt('restPainted')}`);
STEPS.forEach(([, , what], i) => console.log(`    ${what}: ${range(rows.map((r) => r.steps[i]))} ms`));

const search = await page.evaluate(async () => {
  const input = document.getElementById('search');
  const out = [];
  for (let round = 0; round < 3; round++) {
    for (const q of ['s', 'si', 'site1', 'site19', 'site199', 'site1', 'user7', 'work', 'zzz', '']) {
      const t = performance.now();
      input.value = q;
      input.dispatchEvent(new Event('input'));
      const handled = performance.now() - t;
      // Style and layout of the new list, which the browser would do next.
      void document.body.offsetHeight;
      out.push({ q, handled, laidOut: performance.now() - t });
      await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
    }
  }
  return out;
});
for (const q of [...new Set(search.map((s) => s.q))]) {
  const of = search.filter((s) => s.q === q);
  console.log(`search "${q}": handler ${of.map((s) => s.handled.toFixed(1)).join(', ')} ms; with style and layout ${of.map((s) => s.laidOut.toFixed(1)).join(', ')} ms`);
}
const worst = Math.max(...search.map((s) => s.laidOut));
console.log(`search, all ${search.length} keystrokes: handler median ${median(search.map((s) => s.handled)).toFixed(1)} ms, with style and layout median ${median(search.map((s) => s.laidOut)).toFixed(1)} ms, max ${worst.toFixed(1)} ms`);

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
