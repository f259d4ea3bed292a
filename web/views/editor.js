// Add or edit an entry, with the generator. Save, Delete and Generate are
// contract names (issue 17).
import { h, field, alertBox } from '../dom.js';
import { generatePassword } from '../generate.js';

/**
 * `entry` is null for a new one. `actions`: save(old, entry), remove(entry),
 * cancel(); save and remove return promises.
 */
export function editorView(entry, actions) {
  const alert = alertBox();
  const e = entry ?? { name: '', username: null, password: '', urls: [], notes: '', totp: '' };
  const name = field('Name', { required: true, autocomplete: 'off', value: e.name });
  const user = field('Username', { autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false', value: e.username ?? '' });
  const pass = field('Password', { type: 'password', autocomplete: 'new-password', spellcheck: 'false', value: e.password });
  const url = field('URL', { type: 'url', autocomplete: 'off', value: (e.urls ?? []).join(' ') });
  const notes = field('Notes', { rows: 4, value: e.notes ?? '' }, 'textarea');
  const totp = field('TOTP secret', { autocomplete: 'off', spellcheck: 'false', value: e.totp ?? '' });

  const show = h('button', { type: 'button', 'aria-pressed': 'false' }, 'Show');
  show.addEventListener('click', () => {
    const on = pass.input.type === 'password';
    pass.input.type = on ? 'text' : 'password';
    show.setAttribute('aria-pressed', String(on));
  });
  const length = field('Length', { type: 'number', min: 8, max: 128, value: '20', inputmode: 'numeric' });
  const sets = ['lower', 'upper', 'digits', 'symbols'].map((k) => {
    const box = h('input', { type: 'checkbox', id: `set-${k}`, checked: true });
    return { k, box, node: h('label', { class: 'check', for: `set-${k}` }, box, ` ${k}`) };
  });
  const generate = h('button', { type: 'button' }, 'Generate');
  generate.addEventListener('click', () => {
    try {
      const opts = { length: Number(length.input.value) };
      for (const s of sets) opts[s.k] = s.box.checked;
      pass.input.value = generatePassword(opts);
      pass.input.type = 'text';
      show.setAttribute('aria-pressed', 'true');
      alert.show('');
    } catch (err) {
      alert.show(err.message);
    }
  });

  const save = h('button', { type: 'submit', class: 'primary' }, 'Save');
  const form = h('form', { class: 'card editor', novalidate: true },
    h('h1', { tabindex: '-1' }, entry ? `Edit ${entry.name}` : 'New entry'),
    name.row, user.row,
    h('div', { class: 'with-buttons' }, pass.row, h('div', { class: 'bar' }, show, generate)),
    h('fieldset', { class: 'generator' }, h('legend', {}, 'Generator'), length.row, ...sets.map((s) => s.node)),
    url.row, notes.row, totp.row,
    alert.el,
    h('div', { class: 'bar' },
      save,
      entry && h('button', { type: 'button', class: 'danger', onclick: () => run(() => actions.remove(entry)) }, 'Delete'),
      h('button', { type: 'button', onclick: () => actions.cancel(entry) }, 'Cancel')));

  async function run(work) {
    alert.show('');
    for (const b of form.querySelectorAll('button')) b.disabled = true;
    try {
      await work();
    } catch (err) {
      alert.show(err.message);
      for (const b of form.querySelectorAll('button')) b.disabled = false;
    }
  }

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const next = {
      ...e,
      name: name.input.value.trim(),
      username: user.input.value === '' ? null : user.input.value,
      password: pass.input.value,
      urls: url.input.value.split(/\s+/).filter(Boolean),
      notes: notes.input.value,
      totp: totp.input.value.trim(),
    };
    if (!next.name) return alert.show('Give the entry a name.');
    if (!next.password) return alert.show('Give the entry a password (or press Generate).');
    run(() => actions.save(entry, next));
  });
  return { node: form, focus: () => name.input.focus() };
}
