// One entry: every field as text, secrets hidden until Reveal, copy buttons
// and the live TOTP code.
import { h, copyText, statusLine } from '../dom.js';
import { parseTotp, totpCode } from '../totp.js';

const MASK = '••••••••••••';

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

export function entryView(entry, actions) {
  const status = statusLine();
  const copy = (what, text) => async () => {
    try {
      status.show(`${what}: ${await copyText(text)}`);
    } catch (e) {
      status.show(e.message);
    }
  };
  const secret = h('span', { class: 'secret', 'aria-label': 'Password hidden' }, MASK);
  const reveal = h('button', { type: 'button', 'aria-pressed': 'false' }, 'Reveal');
  reveal.addEventListener('click', () => {
    const on = reveal.getAttribute('aria-pressed') !== 'true';
    reveal.setAttribute('aria-pressed', String(on));
    secret.textContent = on ? entry.password : MASK;
    if (on) secret.removeAttribute('aria-label');
    else secret.setAttribute('aria-label', 'Password hidden');
  });

  let stopTotp = () => {};
  let totpRow = null;
  if (entry.totp) {
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
      left.textContent = ` ${now.left} s left`;
    };
    tick();
    const timer = setInterval(tick, 1000);
    stopTotp = () => clearInterval(timer);
    totpRow = row('TOTP', code, left, params && h('button', {
      type: 'button', onclick: () => copy('TOTP code', totpCode(params).code)(),
    }, 'Copy TOTP code'));
  }

  const node = h('section', { class: 'card entry-view' },
    h('h1', { tabindex: '-1' }, entry.name),
    h('dl', {},
      row('Username', entry.username ?? h('span', { class: 'sub' }, '(none)'),
        entry.username ? h('button', { type: 'button', onclick: copy('Username', entry.username) }, 'Copy username') : null),
      row('Password', secret, reveal, h('button', { type: 'button', onclick: copy('Password', entry.password) }, 'Copy password')),
      totpRow,
      ...(entry.urls ?? []).map((u) => row('URL', safeLink(u))),
      entry.folder ? row('Folder', entry.folder) : null,
      entry.notes ? row('Notes', h('span', { class: 'notes' }, entry.notes)) : null),
    status.el,
    h('div', { class: 'bar' },
      h('button', { type: 'button', class: 'primary', onclick: () => actions.edit(entry) }, 'Edit'),
      h('button', { type: 'button', onclick: () => actions.back() }, 'Back')));
  return { node, focus: () => node.querySelector('h1').focus(), close: stopTotp };
}
