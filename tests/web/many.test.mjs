// A vault of a few hundred entries, enough that the list is paged: every
// entry arrives, search shows exactly the matching ones in order while the
// list keeps the items it can (web/views/list.js), and an entry altered on
// the server is counted, not shown, with the warning.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launch, openPage, assertClean, logIn, newName, vault, vaultOk } from './lib.mjs';

const browser = await launch();
after(() => browser.close());

const N = 240;
const entries = Array.from({ length: N }, (_, i) => ({
  name: `site${i}.example.org`,
  username: `user${i}@example.org`,
  url: `https://login${i}.example.net/`,
  folder: i % 10 === 0 ? 'Work' : null,
}));

/** `vault import` of a Bitwarden JSON export of `entries`. */
function importEntries(name) {
  const dir = mkdtempSync(join(tmpdir(), 'vaultd-web-many-'));
  const file = join(dir, 'bitwarden.json');
  writeFileSync(file, JSON.stringify({
    encrypted: false,
    folders: [{ id: 'f-work', name: 'Work' }],
    items: entries.map((e, i) => ({
      id: `item-${i}`, type: 1, name: e.name, notes: null, favorite: false, folderId: e.folder ? 'f-work' : null,
      login: { username: e.username, password: `pw-${i}`, uris: [{ match: null, uri: e.url }] },
    })),
  }));
  try {
    const r = vault(name, ['import', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`imported ${N} of ${N}`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Every item of the list, after "Show more" until there is no more. */
async function allItems(page) {
  for (;;) {
    const more = page.getByRole('button', { name: /^Show more/ });
    if (!(await more.isVisible())) break;
    await more.click();
  }
  return page.locator('ul.entries > li').evaluateAll((lis) => lis.map((li) => li.getAttribute('aria-label')));
}

const label = (e) => `${e.name}, ${e.username}`;
const collator = new Intl.Collator(undefined, { sensitivity: 'base', numeric: true });
const expected = (q) => entries
  .filter((e) => [e.name, e.username, e.url, e.folder ?? ''].join('\n').toLowerCase().includes(q.toLowerCase()))
  .sort((a, b) => collator.compare(a.name, b.name))
  .map(label);

test('hundreds of entries: all opened, search shows exactly the matches, in order', async () => {
  const name = newName('many');
  vaultOk(name, ['register']);
  importEntries(name);
  const { page, problems } = await openPage(browser);
  await logIn(page, name);
  const status = page.locator('.vault [role=status]');
  await page.getByText(`${N} entries`, { exact: true }).waitFor();
  assert.deepEqual(await allItems(page), expected(''));
  // Narrowing, widening, no match, back to all: the list must never keep a
  // stale item or lose a matching one, whatever it reused.
  const search = page.getByLabel('Search', { exact: true });
  for (const q of ['s', 'site1', 'site19', 'site1', 'USER7', 'login23', 'work', 'zzz', 'site2', '']) {
    await search.fill(q);
    const want = expected(q);
    const text = q === '' ? `${N} entries` : `${want.length} of ${N} match`;
    assert.equal(await status.textContent(), text, `status for "${q}"`);
    assert.deepEqual(await allItems(page), want, `the list for "${q}"`);
  }
  // Typed key by key, too (one input event each), then opened by Enter.
  await search.fill('');
  await search.pressSequentially('site23');
  assert.deepEqual(await allItems(page), expected('site23'));
  await search.press('Enter');
  assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'site23.example.org');
  assert.equal(await page.locator('#manifest-warning').isHidden(), true);
  assertClean(problems);
});

test('an entry altered on the server is counted as unreadable and warned about, never shown', async () => {
  const name = newName('many-tamper');
  vaultOk(name, ['register']);
  importEntries(name);
  // One entry's document sealed for another site: it no longer opens.
  const user = `(SELECT id FROM users WHERE username = '${name}')`;
  const r = spawnSync('sqlite3', ['-cmd', '.timeout 10000', process.env.VAULTD_DB,
    `UPDATE entries SET username = (SELECT username FROM entries WHERE user_id = ${user} ORDER BY site DESC LIMIT 1)
     WHERE user_id = ${user} AND site = (SELECT min(site) FROM entries WHERE user_id = ${user})`], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const { page, problems } = await openPage(browser);
  await logIn(page, name);
  await page.getByText(`${N - 1} entries`, { exact: true }).waitFor();
  await page.getByText('1 entry could not be opened', { exact: false }).waitFor();
  await page.locator('#manifest-warning').waitFor({ state: 'visible' });
  const shown = await allItems(page);
  assert.equal(shown.length, N - 1);
  assert.equal(new Set(shown).size, N - 1, 'no entry twice');
  for (const l of shown) assert.ok(expected('').includes(l), `${l} is one of the entries`);
  assertClean(problems);
});
