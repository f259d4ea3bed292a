// One entry: every field as text, secrets hidden until Reveal, copy buttons
// and the live TOTP code.
import { h, copyText, statusLine } from '../dom.js';
import { parseTotp, totpCode } from '../totp.js';

const MASK = '••••••••••••';
// Every value below goes in as text (dom.js h()), never as markup.

/** Only http(s) links are made clickable; anything else stays text. */
function safeLink(url) {
  try {
    const u = new URL(url);
    if (u.protocol === 'https:' || u.protocol === 'http:') {
      return h('a', { href: u.href, rel: 'noopener noreferrer', target: '_blank' }, url);
    }
  } catch {
    // not a URL: shown as text
  }
  return h('span', {}, url);
}

function row(label, ...value) {
  return h('div', { class: 'row' }, h('dt', {}, label), h('dd', {}, ...value));
}

/** A secret shown as a mask until its Reveal button is pressed. */
function hidden(value, what, withCopy, copy) {
  const secret = h('span', { class: 'secret', 'aria-label': `${what} hidden` }, MASK);
  const reveal = h('button', { type: 'button', 'aria-pressed': 'false', 'aria-label': what === 'Password' ? 'Reveal' : `Reveal ${what}` }, 'Reveal');
  reveal.addEventListener('click', () => {
    const on = reveal.getAttribute('aria-pressed') !== 'true';
    reveal.setAttribute('aria-pressed', String(on));
    secret.textContent = on ? value : MASK;
    if (on) secret.removeAttribute('aria-label');
    else secret.setAttribute('aria-label', `${what} hidden`);
  });
  return [secret, reveal, withCopy && h('button', { type: 'button', onclick: copy(what, value) }, `Copy ${what.toLowerCase()}`)];
}

function totpRow(entry, copy) {
  const code = h('output', { class: 'code', 'aria-label': 'TOTP code' });
  const left = h('span', { class: 'sub' });
  let params = null;
  try {
    params = parseTotp(entry.totp);
  } catch (e) {
    code.textContent = e.message;
  }
  const tick = () => {
    if (!params) return;
    const now = totpCode(params);
    code.textContent = now.code;
    left.textContent = `${now.left} s left`;
  };
  tick();
  const timer = setInterval(tick, 1000);
  const node = row('TOTP', code, left, params && h('button', {
    type: 'button', onclick: () => copy('TOTP code', totpCode(params).code)(),
  }, 'Copy TOTP code'));
  return { node, stop: () => clearInterval(timer) };
}

/** Rows of a card or identity; the card number and code are secrets. */
function groupRows(values, copy) {
  return Object.entries(values ?? {}).filter(([, v]) => v !== null && v !== '').map(([k, v]) => {
    const what = k.replace(/_/g, ' ').replace(/^./, (ch) => ch.toUpperCase());
    return ['number', 'code', 'ssn', 'passport_number'].includes(k)
      ? row(what, ...hidden(v, what, true, copy))
      : row(what, v);
  });
}

/** `actions`: edit(entry), back(), restore(entry), purge(entry). */
export function entryView(entry, actions) {
  const status = statusLine();
  const copy = (what, text) => async () => {
    try {
      status.show(`${what}: ${await copyText(text)}`);
    } catch (e) {
      status.show(e.message);
    }
  };
  const totp = entry.totp ? totpRow(entry, copy) : null;
  const history = entry.history.length > 0 && h('details', {},
    h('summary', {}, `Password history (${entry.history.length})`),
    h('dl', {}, ...entry.history.map((old) => row(old.replaced_at, ...hidden(old.password, 'Old password', false, copy)))));
  const trashed = Boolean(entry.trashed_at);
  const node = h('section', { class: 'card entry-view' },
    h('h1', { tabindex: '-1' }, entry.name),
    trashed && h('p', { class: 'warning' }, `In the trash since ${entry.trashed_at}.`),
    h('dl', {},
      row('Username', entry.username ?? h('span', { class: 'sub' }, '(none)'),
        entry.username !== null ? h('button', { type: 'button', onclick: copy('Username', entry.username) }, 'Copy username') : null),
      (entry.password !== '' || entry.type === 'login') && row('Password', ...hidden(entry.password, 'Password', true, copy)),
      totp?.node,
      ...entry.urls.map((u) => row('URL', safeLink(u))),
      ...groupRows(entry.card, copy),
      ...groupRows(entry.identity, copy),
      ...entry.fields.map((f) => (f.hidden ? row(f.name, ...hidden(f.value, f.name, true, copy)) : row(f.name, f.value))),
      entry.folder !== null && row('Folder', entry.folder),
      entry.favourite && row('Favourite', 'yes'),
      entry.notes !== null && row('Notes', h('span', { class: 'notes' }, entry.notes)),
      entry.updated && row('Updated', entry.updated)),
    history,
    status.el,
    h('div', { class: 'bar' }, trashed
      ? [h('button', { type: 'button', class: 'primary', onclick: () => actions.restore(entry) }, 'Restore'),
        h('button', { type: 'button', class: 'danger', onclick: () => actions.purge(entry) }, 'Delete for good')]
      : h('button', { type: 'button', class: 'primary', onclick: () => actions.edit(entry) }, 'Edit'),
    h('button', { type: 'button', onclick: () => actions.back(entry) }, 'Back')));
  return { node, focus: () => node.querySelector('h1').focus(), close: () => totp?.stop() };
}
