// Shared by the browser tests: Debian's Chromium driven by playwright-core,
// a page that records every CSP violation, console error and page error,
// the `vault` CLI, and the steps a person takes (by accessible names only).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

export const BASE = process.env.VAULTD_URL ?? 'http://127.0.0.1:8080';
export const VAULT = process.env.VAULT_BIN;
export const PASSWORD = 'correct horse battery staple';

const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export function launch(extraArgs = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: [...FLAGS, ...extraArgs],
    headless: true,
  });
}

let counter = 0;
/** A username no other test uses. */
export const newName = (tag) => `${tag}-${process.pid}-${++counter}-${Date.now() % 100000}`;

/**
 * A fresh context and page, collecting problems: CSP violations (from the
 * page's own securitypolicyviolation events and Chromium's console reports,
 * which include the worker's), console errors and uncaught exceptions.
 */
export async function openPage(browser, { viewport, permissions, clock, url = `${BASE}/web/` } = {}) {
  const context = await browser.newContext({ viewport: viewport ?? { width: 1024, height: 768 }, permissions });
  const page = await context.newPage();
  const problems = [];
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning' && /Content.Security.Policy/i.test(m.text())) {
      problems.push(`console ${m.type()}: ${m.text()}`);
    }
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('worker', (w) => w.on('console', (m) => {
    if (m.type() === 'error') problems.push(`worker console error: ${m.text()}`);
  }));
  page.on('dialog', (d) => {
    problems.push(`dialog: ${d.message()}`);
    d.dismiss();
  });
  if (clock) await page.clock.install();
  await page.goto(url);
  return { context, page, problems };
}

/** Zero CSP violations and zero console errors, or the list of them. */
export function assertClean(problems) {
  assert.deepEqual(problems, [], 'no CSP violations, console errors or page errors');
}

export async function logIn(page, name, password = PASSWORD) {
  await page.getByLabel('Username', { exact: true }).fill(name);
  await page.getByLabel('Master password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Log in', exact: true }).click();
  await page.getByLabel('Search', { exact: true }).waitFor({ timeout: 60_000 });
}

export async function createAccount(page, name, password = PASSWORD) {
  await page.getByRole('button', { name: 'New here? Create an account' }).click();
  await page.getByLabel('Username', { exact: true }).fill(name);
  await page.getByLabel('Master password', { exact: true }).fill(password);
  await page.getByLabel('Confirm master password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Create account', exact: true }).click();
  await page.getByLabel('Search', { exact: true }).waitFor({ timeout: 90_000 });
}

/** Adds an entry through the editor; `fields` by label. */
export async function addEntry(page, fields) {
  await page.getByRole('button', { name: 'New entry', exact: true }).click();
  for (const [label, value] of Object.entries(fields)) {
    await page.getByLabel(label, { exact: true }).fill(value);
  }
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await page.getByRole('button', { name: 'Edit', exact: true }).waitFor();
}

function vaultEnv(home, name, password, env) {
  return {
    HOME: home, XDG_CONFIG_HOME: join(home, '.config'), XDG_STATE_HOME: join(home, '.state'), PATH: process.env.PATH,
    VAULT_SERVER: BASE, VAULT_USERNAME: name, VAULT_PASSWORD: password, ...env,
  };
}

/** The `vault` CLI as `name`, in an empty HOME; {code, stdout, stderr}. */
export function vault(name, args, { input, password = PASSWORD, env = {} } = {}) {
  assert.ok(VAULT, 'VAULT_BIN is set by tests/web.rs');
  const home = mkdtempSync(join(tmpdir(), 'vaultd-web-home-'));
  try {
    const r = spawnSync(VAULT, args, {
      input: input ?? '',
      encoding: 'utf8',
      timeout: 120_000,
      env: vaultEnv(home, name, password, env),
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

/** `vault` as above, without blocking (to run beside the browser): a promise of {code, stdout, stderr}. */
export function vaultAsync(name, args, { input, password = PASSWORD, env = {} } = {}) {
  assert.ok(VAULT, 'VAULT_BIN is set by tests/web.rs');
  const home = mkdtempSync(join(tmpdir(), 'vaultd-web-home-'));
  return new Promise((resolve, reject) => {
    const child = spawn(VAULT, args, { env: vaultEnv(home, name, password, env) });
    const out = { stdout: '', stderr: '' };
    child.stdout.on('data', (d) => (out.stdout += d));
    child.stderr.on('data', (d) => (out.stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      rmSync(home, { recursive: true, force: true });
      resolve({ code, ...out });
    });
    child.stdin.end(input ?? '');
  });
}

export function vaultOk(name, args, opts) {
  const r = vault(name, args, opts);
  assert.equal(r.code, 0, `vault ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
