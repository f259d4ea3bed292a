// The password generator: uniform choices from crypto.getRandomValues by
// rejection sampling (no modulo bias), at least one character of every set
// chosen.
export const SETS = {
  lower: 'abcdefghijkmnopqrstuvwxyz',
  upper: 'ABCDEFGHJKLMNPQRSTUVWXYZ',
  digits: '23456789',
  symbols: '!#$%&()*+,-./:;<=>?@[]^_{|}~',
};
// 0/O, 1/l/I are left out: passwords get typed from phones.

/** A uniform integer in [0, n). */
export function randomBelow(n) {
  const limit = Math.floor(0x1_0000_0000 / n) * n;
  const buf = new Uint32Array(1);
  for (;;) {
    crypto.getRandomValues(buf);
    if (buf[0] < limit) return buf[0] % n;
  }
}

export function generatePassword({ length = 20, lower = true, upper = true, digits = true, symbols = true } = {}) {
  const chosen = Object.entries({ lower, upper, digits, symbols }).filter(([, on]) => on).map(([k]) => SETS[k]);
  if (chosen.length === 0) throw new Error('choose at least one kind of character');
  if (!(length >= chosen.length && length <= 128)) throw new Error(`length must be ${chosen.length} to 128`);
  const all = chosen.join('');
  for (;;) {
    const out = Array.from({ length }, () => all[randomBelow(all.length)]);
    if (chosen.every((set) => out.some((ch) => set.includes(ch)))) return out.join('');
  }
}

/** `words` random words from `list` joined by `separator`. */
export function generatePassphrase(list, { words = 6, separator = '-' } = {}) {
  if (!(words >= 3 && words <= 20)) throw new Error('a passphrase has 3 to 20 words');
  return Array.from({ length: words }, () => list[randomBelow(list.length)]).join(separator);
}

let words = null;

/**
 * The EFF long word list (7,776 words, about 12.9 bits each; by the
 * Electronic Frontier Foundation, CC BY 3.0 US; the CLI embeds the same
 * list), fetched from the server on first use only, so it adds nothing to
 * the page's first load.
 */
export async function wordList() {
  if (!words) {
    const r = await fetch(new URL('./words.txt', import.meta.url), { credentials: 'omit' });
    if (!r.ok) throw new Error('the word list did not load');
    const list = (await r.text()).split('\n').map((w) => w.trim()).filter(Boolean);
    if (list.length !== 7776) throw new Error('the word list is damaged');
    words = list;
  }
  return words;
}
