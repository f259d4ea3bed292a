// Locking (the button, 5 minutes idle, token expiry, reload) with a fake
// clock, and the clipboard cleared 30 s after a copy. vaultd runs with
// --session-ttl 600 here (tests/web.rs).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, openPage, assertClean, createAccount, logIn, addEntry, newName } from './lib.mjs';

const browser = await launch();
after(() => browser.close());

const locked = (page) => page.getByRole('button', { name: 'Log in', exact: true }).waitFor();

test('Lock, reload, and 5 minutes idle lock the vault and drop its entries', async () => {
  const { page, problems } = await openPage(browser, { clock: true });
  const name = newName('lock');
  await createAccount(page, name);
  await addEntry(page, { Name: 'idle.example', Password: 'idle-pw' });
  await page.getByRole('button', { name: 'Lock', exact: true }).click();
  await locked(page);
  assert.equal(await page.getByText('idle-pw').count(), 0);
  assert.equal(await page.getByLabel('Username', { exact: true }).inputValue(), name);
  await logIn(page, name);
  await page.reload();
  await locked(page);
  await logIn(page, name);
  // Activity resets the idle timer.
  await page.clock.fastForward('04:00');
  await page.getByLabel('Search', { exact: true }).press('a');
  await page.clock.fastForward('04:00');
  assert.equal(await page.getByLabel('Search', { exact: true }).count(), 1, 'still open after 4 + 4 minutes with a key between');
  await page.clock.fastForward('01:05');
  await locked(page);
  await page.getByText('Locked after 5 minutes without activity.').waitFor();
  assert.equal(await page.getByRole('listitem').count(), 0);
  assertClean(problems);
});

test('the vault locks when its token expires, however active', async () => {
  const { page, problems } = await openPage(browser, { clock: true });
  await createAccount(page, newName('expiry'));
  for (let i = 0; i < 2; i++) {
    await page.clock.fastForward('04:30');
    await page.getByLabel('Search', { exact: true }).press('b');
  }
  assert.equal(await page.getByLabel('Search', { exact: true }).count(), 1);
  await page.clock.fastForward('01:05');
  await locked(page);
  await page.getByText('The session expired: log in again.').waitFor();
  assertClean(problems);
});

test('copied secrets leave the clipboard after 30 seconds', async () => {
  const { page, problems } = await openPage(browser, { clock: true, permissions: ['clipboard-read', 'clipboard-write'] });
  await createAccount(page, newName('clip'));
  await addEntry(page, { Name: 'clip.example', Username: 'dora', Password: 'clip-pw', 'TOTP secret': 'JBSWY3DPEHPK3PXP' });
  const clipboard = () => page.evaluate(() => navigator.clipboard.readText());
  await page.getByRole('button', { name: 'Copy username', exact: true }).click();
  await page.getByText('Username: Copied').waitFor();
  assert.equal(await clipboard(), 'dora');
  await page.getByRole('button', { name: 'Copy password', exact: true }).click();
  await page.getByText('Password: Copied').waitFor();
  assert.equal(await clipboard(), 'clip-pw');
  await page.clock.fastForward('00:20');
  assert.equal(await clipboard(), 'clip-pw', 'still there after 20 s');
  await page.clock.fastForward('00:11');
  await page.waitForFunction(async () => (await navigator.clipboard.readText()) === '');
  // The TOTP code copies what the page shows.
  await page.getByRole('button', { name: 'Copy TOTP code', exact: true }).click();
  await page.getByText('TOTP code: Copied').waitFor();
  const shown = await page.getByLabel('TOTP code', { exact: true }).textContent();
  assert.match(shown, /^\d{6}$/);
  assert.equal(await clipboard(), shown);
  // Something else copied meanwhile is left alone.
  await page.evaluate(() => navigator.clipboard.writeText('mine'));
  await page.clock.fastForward('00:31');
  assert.equal(await clipboard(), 'mine');
  assertClean(problems);
});
