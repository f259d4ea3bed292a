// The vault: every entry in a list, with instant search over names,
// usernames, URLs and folders, fast enough for 2,000 entries (see below).
import { h, alertBox } from '../dom.js';
import { searchText } from '../entry.js';

export function itemLabel(e) {
  return e.username ? `${e.name}, ${e.username}` : e.name;
}

/**
 * Items shown at once (a phone shows about 14, a desktop 20); more as the
 * user scrolls (or presses ArrowDown or Show more).
 */
export const PAGE = 50;
const collator = new Intl.Collator(undefined, { sensitivity: 'base', numeric: true });

/**
 * `vault` is {entries, unreadable, query}; `actions` has open(entry), add(),
 * account(), trash(), back() and search(query) (to keep the query).
 * Only the matching items are in the list, at most PAGE more at a time,
 * each built the first time it is shown and kept in place while it still
 * matches: a keystroke over 2,000 entries adds at most PAGE items, and
 * narrowing a search only removes some.
 */
export function listView(vault, actions, { title = 'Vault', trash = false } = {}) {
  const shown = vault.entries
    .filter((e) => Boolean(e.trashed_at) === trash)
    .sort((a, b) => collator.compare(a.name, b.name));
  const items = shown.map((e) => ({ e, text: searchText(e), li: null, button: null }));
  const list = h('ul', { class: 'entries', 'aria-label': trash ? 'Trash' : 'Entries' });
  const more = h('button', { type: 'button', class: 'link' }, 'Show more');
  more.hidden = true;
  let matches = [];
  let rendered = 0;

  function build(item) {
    if (!item.li) {
      const { e } = item;
      item.button = h('button', { type: 'button', class: 'entry', onclick: () => actions.open(e) },
        h('span', { class: 'name' }, e.name),
        e.username ? h('span', { class: 'sub' }, e.username) : null);
      item.li = h('li', { 'aria-label': itemLabel(e) }, item.button);
    }
    return item.li;
  }

  function renderMore() {
    const next = matches.slice(rendered, rendered + PAGE);
    list.append(...next.map(build));
    rendered += next.length;
    moreLeft();
  }

  function moreLeft() {
    more.hidden = rendered >= matches.length;
    more.textContent = `Show more (${matches.length - rendered} left)`;
  }

  /**
   * Makes the list exactly `lis`, in order, touching as few nodes as it
   * can: an item shown before and still matching keeps its node where it is,
   * so the browser styles and lays out only what is new. `lis` and the
   * items already shown are both in the order of `items`.
   */
  function place(lis) {
    const keep = new Set(lis);
    for (const li of [...list.children]) if (!keep.has(li)) li.remove();
    let at = list.firstChild;
    for (const li of lis) {
      if (li === at) at = at.nextSibling;
      else list.insertBefore(li, at);
    }
  }

  const count = h('p', { class: 'status', role: 'status' });
  const alert = alertBox();
  function filter(query) {
    actions.search?.(query);
    const q = query.trim().toLowerCase();
    matches = q === '' ? items : items.filter((i) => i.text.includes(q));
    rendered = Math.min(matches.length, PAGE);
    place(matches.slice(0, rendered).map(build));
    moreLeft();
    const n = matches.length;
    count.textContent = shown.length === 0
      ? (trash ? 'The trash is empty.' : 'No entries yet: add one with New entry.')
      : q === '' ? `${n} ${n === 1 ? 'entry' : 'entries'}` : `${n} of ${shown.length} match`;
  }

  more.addEventListener('click', renderMore);
  // Scrolling near the end shows the next page by itself.
  const observer = new IntersectionObserver((seen) => {
    if (seen.some((s) => s.isIntersecting) && !more.hidden) renderMore();
  }, { rootMargin: '400px' });
  observer.observe(more);

  const search = h('input', {
    id: 'search', type: 'search', autocomplete: 'off', spellcheck: 'false',
    placeholder: 'Names, usernames, URLs, folders', value: vault.query ?? '',
  });
  search.addEventListener('input', () => filter(search.value));
  search.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown') {
      e.preventDefault();
      matches[0]?.button?.focus();
    } else if (e.key === 'Enter') {
      e.preventDefault();
      matches[0]?.button?.click();
    }
  });
  list.addEventListener('keydown', (e) => {
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
    const at = matches.findIndex((i) => i.button && i.button === document.activeElement);
    if (at < 0) return;
    e.preventDefault();
    if (e.key === 'ArrowUp' && at === 0) return search.focus();
    const to = Math.min(matches.length - 1, Math.max(0, at + (e.key === 'ArrowDown' ? 1 : -1)));
    if (to >= rendered) renderMore();
    matches[to].button.focus();
  });
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
    alert.el, count, list, more);
  return { node, focus: () => search.focus(), filter, showError: alert.show, close: () => observer.disconnect() };
}
