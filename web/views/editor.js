// Add or edit an entry (every member of entry format 2), with the
// generator. Save, Delete and Generate are contract names.
import { h, field, alertBox } from '../dom.js';
import { generatePassword, generatePassphrase, wordList } from '../generate.js';
import { CARD, IDENTITY, TYPES } from '../entry.js';

const TYPE_NAMES = { login: 'Login', note: 'Secure note', card: 'Card', identity: 'Identity' };
const label = (k) => k.replace(/_/g, ' ').replace(/^./, (ch) => ch.toUpperCase()).replace(/(\d)$/, ' $1');

/** Inputs for the members of a card or identity: {node, read()}. */
function group(legend, names, values = {}) {
  const inputs = names.map((n) => [n, field(label(n), { autocomplete: 'off', value: values?.[n] ?? '' })]);
  return {
    node: h('fieldset', { class: 'group' }, h('legend', {}, legend), ...inputs.map(([, f]) => f.row)),
    read: () => Object.fromEntries(inputs.map(([n, f]) => [n, f.input.value === '' ? null : f.input.value])),
  };
}

/** Custom fields: rows of name, value, hidden; {node, read()}. */
function customFields(initial) {
  const list = h('div', {});
  const rows = [];
  const addRow = (f = { name: '', value: '', hidden: false }) => {
    const name = field('Field name', { autocomplete: 'off', value: f.name });
    const value = field('Field value', { autocomplete: 'off', value: f.value });
    const hidden = h('input', { type: 'checkbox', checked: f.hidden });
    const row = { name, value, hidden };
    const node = h('div', { class: 'custom' }, name.row, value.row,
      h('label', { class: 'check' }, hidden, ' hidden'),
      h('button', { type: 'button', onclick: () => { node.remove(); rows.splice(rows.indexOf(row), 1); } }, 'Remove field'));
    rows.push(row);
    list.append(node);
  };
  for (const f of initial ?? []) addRow(f);
  return {
    node: h('fieldset', { class: 'group' }, h('legend', {}, 'Custom fields'), list,
      h('button', { type: 'button', onclick: () => addRow() }, 'Add field')),
    read: () => rows.filter((r) => r.name.input.value !== '' || r.value.input.value !== '')
      .map((r) => ({ name: r.name.input.value, value: r.value.input.value, hidden: r.hidden.checked })),
  };
}

/** The password field with Show, Generate and the generator's options. */
function passwordPart(value, alert) {
  const pass = field('Password', { type: 'password', autocomplete: 'new-password', spellcheck: 'false', value });
  const show = h('button', { type: 'button', 'aria-pressed': 'false' }, 'Show');
  const setShown = (on) => {
    pass.input.type = on ? 'text' : 'password';
    show.setAttribute('aria-pressed', String(on));
  };
  show.addEventListener('click', () => setShown(pass.input.type === 'password'));
  const kind = field('Kind of password', {}, 'select');
  kind.input.append(h('option', { value: 'chars' }, 'Characters'), h('option', { value: 'words' }, 'Passphrase'));
  const length = field('Length', { type: 'number', min: 8, max: 128, value: '20', inputmode: 'numeric' });
  const sets = ['lower', 'upper', 'digits', 'symbols'].map((k) => {
    const box = h('input', { type: 'checkbox', checked: true });
    return { k, box, node: h('label', { class: 'check' }, box, ` ${k}`) };
  });
  const count = field('Words', { type: 'number', min: 3, max: 20, value: '6', inputmode: 'numeric' });
  const separator = field('Separator', { autocomplete: 'off', value: '-', maxlength: 3 });
  const charsPart = h('div', { class: 'generator-part' }, length.row, ...sets.map((s) => s.node));
  const wordsPart = h('div', { class: 'generator-part' }, count.row, separator.row);
  const showKind = () => {
    charsPart.hidden = kind.input.value !== 'chars';
    wordsPart.hidden = kind.input.value !== 'words';
  };
  kind.input.addEventListener('change', showKind);
  showKind();
  const generate = h('button', { type: 'button' }, 'Generate');
  generate.addEventListener('click', async () => {
    try {
      if (kind.input.value === 'words') {
        pass.input.value = generatePassphrase(await wordList(),
          { words: Number(count.input.value), separator: separator.input.value });
      } else {
        const opts = { length: Number(length.input.value) };
        for (const s of sets) opts[s.k] = s.box.checked;
        pass.input.value = generatePassword(opts);
      }
      setShown(true);
      alert.show('');
    } catch (err) {
      alert.show(err.message);
    }
  });
  return {
    input: pass.input,
    node: h('div', {}, pass.row, h('div', { class: 'bar' }, show, generate),
      h('fieldset', { class: 'generator' }, h('legend', {}, 'Generator'), kind.row, charsPart, wordsPart)),
  };
}

/**
 * `entry` is null for a new one. `actions`: save(old, changes),
 * remove(entry) (to the trash), cancel(entry); save and remove return promises.
 */
export function editorView(entry, actions) {
  const alert = alertBox();
  const e = entry ?? { type: 'login', name: '', username: null, password: '', urls: [], notes: null,
    totp: null, fields: [], folder: null, favourite: false };
  const type = field('Type', {}, 'select');
  for (const t of TYPES) type.input.append(h('option', { value: t, selected: t === e.type }, TYPE_NAMES[t]));
  const name = field('Name', { required: true, autocomplete: 'off', maxlength: 512, value: e.name });
  const user = field('Username', { autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false', value: e.username ?? '' });
  const pass = passwordPart(e.password, alert);
  const url = field('URL', { type: 'url', autocomplete: 'off', value: e.urls[0] ?? '' });
  const moreUrls = field('More URLs (one a line)', { rows: 2, value: e.urls.slice(1).join('\n') }, 'textarea');
  const notes = field('Notes', { rows: 4, value: e.notes ?? '' }, 'textarea');
  const totp = field('TOTP secret', { autocomplete: 'off', spellcheck: 'false', value: e.totp ?? '' });
  const folder = field('Folder', { autocomplete: 'off', value: e.folder ?? '' });
  const favourite = h('input', { type: 'checkbox', checked: e.favourite });
  const custom = customFields(e.fields);
  const card = group('Card', CARD, e.card);
  const identity = group('Identity', IDENTITY, e.identity);
  const showGroups = () => {
    card.node.hidden = type.input.value !== 'card';
    identity.node.hidden = type.input.value !== 'identity';
  };
  type.input.addEventListener('change', showGroups);
  showGroups();

  const save = h('button', { type: 'submit', class: 'primary' }, 'Save');
  const form = h('form', { class: 'card editor', novalidate: true },
    h('h1', { tabindex: '-1' }, entry ? `Edit ${entry.name}` : 'New entry'),
    type.row, name.row, user.row, pass.node, url.row, moreUrls.row, notes.row, totp.row,
    card.node, identity.node, custom.node, folder.row,
    h('label', { class: 'check' }, favourite, ' Favourite'),
    alert.el,
    h('div', { class: 'bar' },
      save,
      entry && !entry.trashed_at && h('button', { type: 'button', class: 'danger', onclick: () => run(() => actions.remove(entry)) }, 'Delete'),
      h('button', { type: 'button', onclick: () => actions.cancel(entry) }, 'Cancel')));

  async function run(work) {
    alert.show('');
    const buttons = [...form.querySelectorAll('button')];
    for (const b of buttons) b.disabled = true;
    try {
      await work();
    } catch (err) {
      alert.show(err.message);
      for (const b of buttons) b.disabled = false;
    }
  }

  const orNull = (v) => (v === '' ? null : v);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const t = type.input.value;
    const changes = {
      type: t,
      name: name.input.value.trim(),
      username: orNull(user.input.value),
      password: pass.input.value,
      urls: [url.input.value.trim(), ...moreUrls.input.value.split('\n').map((u) => u.trim())].filter(Boolean),
      notes: orNull(notes.input.value),
      totp: orNull(totp.input.value.trim()),
      fields: custom.read(),
      folder: orNull(folder.input.value.trim()),
      favourite: favourite.checked,
    };
    if (t === 'card') changes.card = card.read();
    if (t === 'identity') changes.identity = identity.read();
    if (!changes.name) return alert.show('Give the entry a name.');
    run(() => actions.save(entry, changes));
  });
  return { node: form, focus: () => name.input.focus() };
}
