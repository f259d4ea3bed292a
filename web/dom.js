// Building the page: elements from plain data, text only. Data never goes
// through innerHTML or an attribute that runs code; `h` sets text with
// textContent and attributes with setAttribute.

/**
 * h('button', {class: 'x', onclick: fn, 'aria-label': 'y'}, 'text', child)
 * Children are nodes or strings (as text); null and false are skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'value') el.value = v;
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return el;
}

let fieldCount = 0;

/** A labelled input: {row, input}. The label names the input for assistive tech. */
export function field(label, attrs = {}, tag = 'input') {
  const id = `f${++fieldCount}`;
  const input = h(tag, { id, ...attrs });
  const row = h('div', { class: 'field' }, h('label', { for: id }, label), input);
  return { row, input };
}

/** An element with role=alert whose text is set later; empty means hidden. */
export function alertBox() {
  const el = h('p', { role: 'alert', class: 'alert' });
  el.hidden = true;
  return {
    el,
    show(message) {
      el.textContent = message;
      el.hidden = !message;
    },
  };
}

/** A polite status line (copied, saved). */
export function statusLine() {
  const el = h('p', { role: 'status', class: 'status' });
  return {
    el,
    show(message) {
      el.textContent = message;
    },
  };
}

// --- clipboard ---------------------------------------------------------------

export const CLIPBOARD_CLEAR_MS = 30_000;
let clearTimer = null;

/**
 * Copies `text`; clears the clipboard after 30 s where the browser lets a
 * page write it without a click (the asynchronous clipboard, secure contexts
 * only), unless something else was copied meanwhile. Returns a message.
 */
export async function copyText(text) {
  clearTimeout(clearTimer);
  if (navigator.clipboard?.writeText) {
    try {
      await navigator.clipboard.writeText(text);
      clearTimer = setTimeout(() => clearClipboard(text), CLIPBOARD_CLEAR_MS);
      return 'Copied; the clipboard is cleared in 30 seconds';
    } catch {
      // Fall through: the old way works from a click in any context.
    }
  }
  const area = h('textarea', { class: 'offscreen', readonly: true, 'aria-hidden': 'true' });
  area.value = text;
  document.body.append(area);
  area.select();
  const ok = document.execCommand('copy');
  area.remove();
  if (!ok) throw new Error('this browser did not let the page copy');
  return 'Copied; this browser does not let the page clear it: clear it yourself';
}

async function clearClipboard(ours) {
  try {
    let current = ours;
    try {
      current = await navigator.clipboard.readText();
    } catch {
      // Unreadable (no permission): clear anyway, a secret may be there.
    }
    if (current === ours) await navigator.clipboard.writeText('');
  } catch {
    // Not focused or not allowed: nothing more a page can do.
  }
}

export function cancelClipboardClear() {
  clearTimeout(clearTimer);
}
