// The vault: every entry in a list, with instant search over names,
// usernames, URLs and folders. The list items are built once; a keystroke
// only shows and hides them, so searching 2,000 entries stays within a frame.
import { h } from '../dom.js';
import { searchText } from '../entry.js';

export function itemLabel(e) {
  return e.username ? `${e.name}, ${e.username}` : e.name;
}

/**
 * `vault` is {entries, unreadable, query}; `actions` has open(entry), add(),
 * account(), trash(), back() and search(query) (to keep the query).
 */
export function listView(vault, actions, { title = 'Vault', trash = false } = {}) {
  const shown = vault.entries
    .filter((e) => Boolean(e.trashed_at) === trash)
    .sort((a, b) => a.name.localeCompare(b.name, undefined, { sensitivity: 'base' }));
  const list = h('ul', { class: 'entries', 'aria-label': trash ? 'Trash' : 'Entries' });
  const items = shown.map((e) => {
    const button = h('button', { type: 'button', class: 'entry', onclick: () => actions.open(e) },
      h('span', { class: 'name' }, e.name),
      e.username ? h('span', { class: 'sub' }, e.username) : null);
    const li = h('li', { 'aria-label': itemLabel(e) }, button);
    list.append(li);
    return { li, button, text: searchText(e), hidden: false };
  });
  const count = h('p', { class: 'status', role: 'status' });
  const search = h('input', {
    id: 'search', type: 'search', autocomplete: 'off', spellcheck: 'false',
    placeholder: 'Names, usernames, URLs, folders', value: vault.query ?? '',
  });
  search.addEventListener('input', () => filter(search.value));
  search.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown') {
      e.preventDefault();
      visible()[0]?.button.focus();
    } else if (e.key === 'Enter') {
      e.preventDefault();
      visible()[0]?.button.click();
    }
  });
  list.addEventListener('keydown', (e) => {
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
    const v = visible();
    const at = v.findIndex((i) => i.button === document.activeElement);
    if (at < 0) return;
    e.preventDefault();
    if (e.key === 'ArrowUp' && at === 0) search.focus();
    else v[Math.min(v.length - 1, Math.max(0, at + (e.key === 'ArrowDown' ? 1 : -1)))].button.focus();
  });

  function visible() {
    return items.filter((i) => !i.hidden);
  }

  function filter(query) {
    actions.search?.(query);
    const q = query.trim().toLowerCase();
    let n = 0;
    for (const item of items) {
      const hide = q !== '' && !item.text.includes(q);
      if (hide !== item.hidden) {
        item.hidden = hide;
        item.li.hidden = hide;
      }
      if (!hide) n++;
    }
    count.textContent = shown.length === 0
      ? (trash ? 'The trash is empty.' : 'No entries yet: add one with New entry.')
      : q === '' ? `${n} ${n === 1 ? 'entry' : 'entries'}` : `${n} of ${shown.length} match`;
  }
  filter(search.value);

  const bar = trash
    ? h('div', { class: 'bar' },
      h('button', { type: 'button', onclick: () => actions.back() }, 'Back to the vault'))
    : h('div', { class: 'bar' },
      h('button', { type: 'button', class: 'primary', onclick: () => actions.add() }, 'New entry'),
      actions.trash && h('button', { type: 'button', onclick: () => actions.trash() }, 'Trash'),
      h('button', { type: 'button', onclick: () => actions.account() }, 'Account'));
  const node = h('section', { class: 'vault' },
    h('h1', { tabindex: '-1' }, title),
    bar,
    vault.unreadable > 0 && !trash && h('p', { class: 'warning', role: 'alert' },
      `${vault.unreadable} ${vault.unreadable === 1 ? 'entry' : 'entries'} could not be opened: ` +
      'they were not written by a vault client, or were altered on the server.'),
    h('div', { class: 'field' }, h('label', { for: 'search' }, 'Search'), search),
    count, list);
  return { node, focus: () => search.focus(), filter };
}
