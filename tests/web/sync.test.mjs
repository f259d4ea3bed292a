// Issue 14 in the browser: the web vault keeps the CLI's sync and manifest
// rules. What one client writes verifies in the other; a vault tampered with
// in the database shows the warning, and a write over it seals nothing; a
// browser write and a `vault` write at once both land.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { launch, openPage, assertClean, createAccount, logIn, addEntry, newName, vault, vaultOk, vaultAsync } from './lib.mjs';

const browser = await launch();
after(() => browser.close());

const DB = process.env.VAULTD_DB;

/** SQL on the test server's own database, as a hostile server would do it. */
function sql(statement) {
  assert.ok(DB, 'VAULTD_DB is set by tests/web.rs');
  const r = spawnSync('sqlite3', ['-cmd', '.timeout 10000', DB, statement], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

/** Adds an entry from the entry view the last one left open. */
async function addAnother(page, fields) {
  await page.getByRole('button', { name: 'Back', exact: true }).click();
  await addEntry(page, fields);
}

const warning = (page) => page.locator('#manifest-warning');

function assertVerifies(name) {
  const r = vault(name, ['verify']);
  assert.equal(r.code, 0, `vault verify: ${r.stdout}${r.stderr}`);
}

/** The page's own sync state (what the banner shows). */
const syncState = (page) => page.evaluate(async () => (await import('./api.js')).syncState());

test('a vault written by the browser verifies with vault, and the reverse with no warning', async () => {
  const { page, problems } = await openPage(browser);
  const name = newName('websync');
  await createAccount(page, name);
  await addEntry(page, { Name: 'one.example', Username: 'ann', Password: 'pw-1' });
  await addAnother(page, { Name: 'two.example', Password: 'pw-2' });
  // A change, a rename (add then delete) and the trash: every kind of write.
  await page.getByRole('button', { name: 'Edit', exact: true }).click();
  await page.getByLabel('Name', { exact: true }).fill('renamed.example');
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await page.getByRole('button', { name: 'Edit', exact: true }).click();
  await page.getByRole('button', { name: 'Delete', exact: true }).click();
  await page.getByLabel('Search', { exact: true }).waitFor();
  assertVerifies(name);
  // vault writes; the browser, logged in again, verifies what it wrote.
  vaultOk(name, ['add', '--username', 'cli', 'cli.example'], { input: 'cli-pw\n' });
  await page.getByRole('button', { name: 'Lock', exact: true }).click();
  await logIn(page, name);
  await page.getByRole('listitem', { name: 'cli.example, cli' }).waitFor();
  assert.deepEqual(await syncState(page), { checked: true, failed: false, message: '' });
  assert.equal(await warning(page).isHidden(), true);
  assertVerifies(name);
  assertClean(problems);
});

test('a vault made by vault verifies in the browser; a browser write keeps it verified', async () => {
  const name = newName('clisync');
  vaultOk(name, ['register']);
  vaultOk(name, ['add', '--username', 'dan', 'a.example'], { input: 'a-pw\n' });
  vaultOk(name, ['add', 'b.example'], { input: 'b-pw\n' });
  vaultOk(name, ['rm', 'b.example']);
  const { page, problems } = await openPage(browser);
  await logIn(page, name);
  await page.getByRole('listitem', { name: 'a.example, dan' }).waitFor();
  assert.deepEqual(await syncState(page), { checked: true, failed: false, message: '' });
  assert.equal(await warning(page).isHidden(), true);
  await addEntry(page, { Name: 'c.example', Password: 'c-pw' });
  assertVerifies(name);
  assertClean(problems);
});

test('a row dropped in the database shows the warning; a write over it seals nothing', async () => {
  const name = newName('tamper');
  vaultOk(name, ['register']);
  vaultOk(name, ['add', 'kept.example'], { input: 'k-pw\n' });
  vaultOk(name, ['add', 'dropped.example'], { input: 'd-pw\n' });
  assertVerifies(name);
  const user = `(SELECT id FROM users WHERE username = '${name}')`;
  sql(`DELETE FROM entries WHERE user_id = ${user} AND site = (SELECT min(site) FROM entries WHERE user_id = ${user})`);
  const { page, problems } = await openPage(browser);
  await logIn(page, name);
  await warning(page).waitFor({ state: 'visible' });
  assert.match(await warning(page).textContent(), /1 entry is missing from the vault/);
  // A write goes on (not strict), without a manifest: the failure stays visible.
  await addEntry(page, { Name: 'after.example', Password: 'a-pw' });
  assert.equal(await warning(page).isVisible(), true);
  const r = vault(name, ['verify']);
  assert.equal(r.code, 4, `a vault that failed stays failed: ${r.stdout}${r.stderr}`);
  // The user decides the vault is right; the browser then sees no warning.
  vaultOk(name, ['verify', '--reseal']);
  await page.getByRole('button', { name: 'Lock', exact: true }).click();
  await logIn(page, name);
  assert.deepEqual(await syncState(page), { checked: true, failed: false, message: '' });
  assert.equal(await warning(page).isHidden(), true);
  // Problems are expected here: none are console errors.
  assertClean(problems);
});

test('a browser write and a vault write at once both land and verify', async () => {
  const name = newName('race');
  vaultOk(name, ['register']);
  vaultOk(name, ['add', 'first.example'], { input: 'f-pw\n' });
  const { page, problems } = await openPage(browser);
  await logIn(page, name);
  // The browser's snapshot is now behind: its next write meets a 409 on
  // base_seq, syncs, re-checks, recomputes the manifest and lands.
  vaultOk(name, ['add', 'behind.example'], { input: 'b-pw\n' });
  await addEntry(page, { Name: 'web-1.example', Password: 'w1' });
  // The list shows what the other writer added, without logging in again.
  await page.getByRole('button', { name: 'Back', exact: true }).click();
  await page.getByRole('listitem', { name: 'behind.example' }).waitFor();
  await page.getByRole('listitem', { name: 'web-1.example' }).waitFor();
  await page.getByRole('listitem', { name: 'first.example' }).getByRole('button').click(); // the loop starts from an entry
  // Both at once, three times.
  for (let i = 0; i < 3; i++) {
    const cli = vaultAsync(name, ['add', `cli-${i}.example`], { input: `c${i}\n` });
    await addAnother(page, { Name: `web-${i + 2}.example`, Password: `w${i + 2}` });
    const r = await cli;
    assert.equal(r.code, 0, r.stderr);
  }
  assertVerifies(name);
  // Every entry, read back from a fresh login (this CLI may read format 1 only).
  await page.getByRole('button', { name: 'Lock', exact: true }).click();
  await logIn(page, name);
  for (const site of ['first', 'behind', 'web-1', 'web-2', 'web-3', 'web-4', 'cli-0', 'cli-1', 'cli-2']) {
    await page.getByRole('listitem', { name: `${site}.example` }).waitFor();
  }
  assert.equal(await page.getByRole('listitem').count(), 9);
  assert.deepEqual(await syncState(page), { checked: true, failed: false, message: '' });
  // Chromium logs each 409 (a base_seq that another writer moved on) as a
  // console error: those prove the retry ran; anything else is a problem.
  const conflict = /status of 409 \(Conflict\)/;
  assert.ok(problems.some((p) => conflict.test(p)), 'at least one write met a 409 on base_seq and retried');
  assertClean(problems.filter((p) => !conflict.test(p)));
});
