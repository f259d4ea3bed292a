// The insecure-origin banner, a phone's 390 x 844 viewport without
// horizontal scrolling (a screenshot is written for people to look at), and
// the vault used by keyboard alone.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { launch, openPage, assertClean, createAccount, addEntry, newName, BASE, PASSWORD } from './lib.mjs';

const browser = await launch();
after(() => browser.close());

test('plain http from another host shows the banner; loopback does not', async () => {
  const { page, problems } = await openPage(browser);
  assert.equal(await page.getByText('This connection is not encrypted.').isVisible(), false);
  // vault.test resolves to loopback, but the page cannot tell: to it this
  // is a LAN address over plain http.
  const lan = await launch([`--host-resolver-rules=MAP vault.test 127.0.0.1`]);
  try {
    const other = await openPage(lan, { url: `http://vault.test:${process.env.VAULTD_PORT}/web/` });
    await other.page.getByText('This connection is not encrypted.').waitFor();
    await other.page.getByText('Anyone on the network could read or alter what is sent', { exact: false }).waitFor();
    // Not a secure context, and everything still works: OPAQUE, the vault
    // key, entries (only crypto.getRandomValues is needed), and copying the
    // old way, which cannot clear the clipboard later, as the page says.
    assert.equal(await other.page.evaluate(() => window.isSecureContext), false);
    await createAccount(other.page, newName('lan'));
    await addEntry(other.page, { Name: 'lan.example', Password: 'lan-pw' });
    await other.page.getByRole('button', { name: 'Copy password', exact: true }).click();
    await other.page.getByText('clear it yourself', { exact: false }).waitFor();
    await other.page.getByRole('button', { name: 'Lock', exact: true }).click();
    await other.page.getByRole('link', { name: 'Set up HTTPS' }).click();
    await other.page.getByRole('heading', { name: 'Set up HTTPS' }).waitFor();
    assertClean(other.problems);
  } finally {
    await lan.close();
  }
  assertClean(problems);
});

/** Whether the page scrolls sideways. */
const overflows = (page) => page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);

test('a phone viewport: every view fits its width', async () => {
  const { page, problems } = await openPage(browser, { viewport: { width: 390, height: 844 } });
  assert.equal(await overflows(page), false, 'login');
  await createAccount(page, newName('phone'));
  const long = 'a-very-long-name-without-any-space-'.repeat(4);
  await addEntry(page, { Name: long, Username: 'someone.with.a.long.address@example.org', Password: 'x'.repeat(200), URL: `https://${long}.example/` });
  assert.equal(await overflows(page), false, 'entry view');
  await page.getByRole('button', { name: 'Reveal', exact: true }).click();
  assert.equal(await overflows(page), false, 'entry view, revealed');
  await page.getByRole('button', { name: 'Edit', exact: true }).click();
  assert.equal(await overflows(page), false, 'editor');
  await page.getByRole('button', { name: 'Cancel', exact: true }).click();
  await page.getByRole('button', { name: 'Back', exact: true }).click();
  await addEntryFromList(page, 'mail.example.org', 'alice');
  await addEntryFromList(page, 'bank.example', 'alice.smith');
  assert.equal(await overflows(page), false, 'list');
  await page.screenshot({ path: join(process.env.SCREENSHOT_DIR ?? '.', 'web-vault-390x844.png') });
  assertClean(problems);
});

/** From the list, adds an entry and goes back to the list. */
async function addEntryFromList(page, name, username) {
  await addEntry(page, { Name: name, Username: username, Password: 'pw-of-' + name });
  await page.getByRole('button', { name: 'Back', exact: true }).click();
}

test('keyboard alone: log in, search, open, back, add, lock', async () => {
  const { page, problems } = await openPage(browser);
  const name = newName('keys');
  await createAccount(page, name);
  await addEntry(page, { Name: 'alpha.example', Password: 'alpha-pw' });
  await page.getByRole('button', { name: 'Back', exact: true }).click();
  await addEntry(page, { Name: 'beta.example', Password: 'beta-pw' });
  await page.getByRole('button', { name: 'Lock', exact: true }).click();
  await page.getByRole('button', { name: 'Log in', exact: true }).waitFor();
  // The password field has the focus (the username is filled in): type, Enter.
  await page.keyboard.type(PASSWORD);
  await page.keyboard.press('Enter');
  await page.getByLabel('Search', { exact: true }).waitFor({ timeout: 60_000 });
  // The search field has the focus.
  await page.keyboard.type('bet');
  assert.equal(await page.getByRole('listitem').filter({ visible: true }).count(), 1);
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'beta.example' }).waitFor();
  await page.keyboard.press('Escape');
  await page.getByLabel('Search', { exact: true }).waitFor();
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'beta.example' }).waitFor();
  // Tab order reaches Edit; Enter opens the editor, whose first field has the focus.
  for (let i = 0; i < 20 && (await page.evaluate(() => document.activeElement?.textContent)) !== 'Edit'; i++) {
    await page.keyboard.press('Tab');
  }
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Edit beta.example' }).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.id === document.querySelector('label[for]')?.htmlFor || document.activeElement?.value), 'beta.example');
  assertClean(problems);
});

test('the generator: characters and passphrases', async () => {
  const { page, problems } = await openPage(browser);
  await createAccount(page, newName('gen'));
  await page.getByRole('button', { name: 'New entry', exact: true }).click();
  const password = page.getByLabel('Password', { exact: true });
  await page.getByLabel('Length', { exact: true }).fill('32');
  await page.getByRole('button', { name: 'Generate', exact: true }).click();
  const chars = await password.inputValue();
  assert.equal(chars.length, 32);
  for (const set of [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/]) assert.match(chars, set);
  await page.getByLabel('symbols').uncheck();
  await page.getByRole('button', { name: 'Generate', exact: true }).click();
  assert.match(await password.inputValue(), /^[A-Za-z0-9]{32}$/);
  await page.getByLabel('Kind of password', { exact: true }).selectOption('words');
  await page.getByLabel('Words', { exact: true }).fill('5');
  await page.getByLabel('Separator', { exact: true }).fill('.');
  await page.getByRole('button', { name: 'Generate', exact: true }).click();
  await page.waitForFunction(() => document.querySelector('input[autocomplete=new-password]').value.split('.').length === 5);
  const words = (await password.inputValue()).split('.');
  assert.ok(words.every((w) => /^[a-z-]+$/.test(w)), words.join(' '));
  await page.getByLabel('Name', { exact: true }).fill('generated.example');
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await page.getByRole('button', { name: 'Edit', exact: true }).waitFor();
  assertClean(problems);
});
