// The account: change the master password (the vault key stays, re-wrapped
// under the new password; entries are not touched).
import { h, field, alertBox, statusLine } from '../dom.js';

export function accountView(username, actions) {
  const alert = alertBox();
  const status = statusLine();
  const current = field('Current master password', { type: 'password', autocomplete: 'current-password', required: true });
  const next = field('New master password', { type: 'password', autocomplete: 'new-password', required: true });
  const confirm = field('Confirm new master password', { type: 'password', autocomplete: 'new-password', required: true });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Change master password');
  const form = h('form', { class: 'card', novalidate: true },
    h('h1', { tabindex: '-1' }, 'Account'),
    h('p', {}, 'Logged in as ', h('strong', {}, username)),
    h('h2', {}, 'Change the master password'),
    current.row, next.row, confirm.row, alert.el, status.el,
    h('div', { class: 'bar' }, submit,
      h('button', { type: 'button', onclick: () => actions.back() }, 'Back to the vault')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    alert.show('');
    if (next.input.value !== confirm.input.value) return alert.show('The two new master passwords differ.');
    if (next.input.value.length < 10) return alert.show('Choose a master password of at least 10 characters.');
    submit.disabled = true;
    status.show('Changing the master password… (this takes a few seconds)');
    try {
      await actions.changePassword(current.input.value, next.input.value);
      for (const f of [current, next, confirm]) f.input.value = '';
      status.show('The master password is changed; every other session is logged out.');
    } catch (err) {
      status.show('');
      alert.show(err.message);
    } finally {
      submit.disabled = false;
    }
  });
  return { node: form, focus: () => current.input.focus() };
}
