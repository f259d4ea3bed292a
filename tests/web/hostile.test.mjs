// Entry content is only ever text: markup in a name, username or note shows
// as those characters and runs nothing. Keys, token and entries never reach
// any storage a page can use.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, openPage, assertClean, createAccount, logIn, newName, vaultOk } from './lib.mjs';

const browser = await launch();
after(() => browser.close());

const IMG = '<img src=x onerror=alert(1)>';
const SCRIPT = '<script>alert(2)</script>';

test('hostile names, usernames and notes show as text', async () => {
  const name = newName('hostile');
  vaultOk(name, ['register']);
  vaultOk(name, ['add', '--username', SCRIPT, IMG], { input: '"><svg onload=alert(3)>\n' });
  const { page, problems } = await openPage(browser);
  await logIn(page, name);
  const item = page.getByRole('listitem', { name: `${IMG}, ${SCRIPT}` });
  await item.waitFor();
  assert.equal(await item.locator('.name').textContent(), IMG);
  await item.getByRole('button').click();
  assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), IMG);
  await page.getByRole('button', { name: 'Reveal', exact: true }).click();
  await page.getByText('"><svg onload=alert(3)>', { exact: true }).waitFor();
  // Notes typed in the editor, too.
  await page.getByRole('button', { name: 'Edit', exact: true }).click();
  await page.getByLabel('Notes', { exact: true }).fill(`${IMG}\n${SCRIPT}`);
  await page.getByLabel('Name', { exact: true }).fill(`${IMG} 2`);
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await page.getByText(`${IMG}\n${SCRIPT}`, { exact: true }).waitFor();
  const markup = await page.evaluate(() => ({
    img: document.querySelectorAll('img').length,
    svg: document.querySelectorAll('svg').length,
    scripts: [...document.scripts].map((s) => s.getAttribute('src')),
    x: performance.getEntriesByType('resource').some((r) => r.name.endsWith('/x')),
  }));
  assert.deepEqual(markup, { img: 0, svg: 0, scripts: ['app.js'], x: false });
  assertClean(problems);
});

test('nothing is stored: no cookie, localStorage, sessionStorage or IndexedDB; the URL stays bare', async () => {
  const { page, problems } = await openPage(browser);
  await createAccount(page, newName('storage'));
  const stored = await page.evaluate(async () => ({
    cookie: document.cookie,
    local: localStorage.length,
    session: sessionStorage.length,
    idb: (await indexedDB.databases()).length,
    url: location.href.replace(location.origin, ''),
  }));
  assert.deepEqual(stored, { cookie: '', local: 0, session: 0, idb: 0, url: '/web/' });
  assertClean(problems);
});
