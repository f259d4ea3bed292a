// Log in, or create an account. The labels and button names are part of
// the contract with outside tests: keep them.
import { h, field, alertBox } from '../dom.js';

/**
 * `actions.login(username, password)` and `actions.register(username,
 * password, invite)` return promises; `reason` says why the vault is shown
 * locked (null on first load).
 */
export function loginView(actions, { username = '', reason = null, creating = false } = {}) {
  const alert = alertBox();
  const user = field('Username', {
    name: 'username', autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false',
    required: true, maxlength: 64, value: username,
  });
  const pass = field('Master password', {
    type: 'password', name: 'password', required: true,
    autocomplete: creating ? 'new-password' : 'current-password',
  });
  const confirm = creating && field('Confirm master password', {
    type: 'password', name: 'confirm', required: true, autocomplete: 'new-password',
  });
  const invite = creating && field('Invite (only if the server asks for one)', {
    name: 'invite', autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false',
  });
  const submit = h('button', { type: 'submit', class: 'primary' }, creating ? 'Create account' : 'Log in');
  const busy = h('p', { class: 'status', role: 'status' });
  const other = h('button', { type: 'button', class: 'link', onclick: () => actions.switchMode(!creating, user.input.value) },
    creating ? 'I have an account: log in' : 'New here? Create an account');

  const form = h('form', { class: 'card', novalidate: true },
    h('h1', { tabindex: '-1' }, creating ? 'Create a vault' : 'Unlock your vault'),
    reason && h('p', { class: 'note' }, reason),
    user.row, pass.row, confirm && confirm.row, invite && invite.row,
    alert.el, submit, busy, other);

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    performance.mark('vault:login-submit');
    alert.show('');
    const name = user.input.value.trim();
    const password = pass.input.value;
    if (!name) return alert.show('Enter a username.');
    if (!password) return alert.show('Enter the master password.');
    if (creating) {
      if (password !== confirm.input.value) return alert.show('The two master passwords differ.');
      if (password.length < 10) return alert.show('Choose a master password of at least 10 characters.');
    }
    submit.disabled = true;
    busy.textContent = creating ? 'Creating the account… (this takes a few seconds)' : 'Unlocking… (this takes a few seconds)';
    try {
      if (creating) await actions.register(name, password, invite.input.value.trim());
      else await actions.login(name, password);
    } catch (err) {
      alert.show(err.message);
      submit.disabled = false;
      busy.textContent = '';
      pass.input.focus();
    }
  });
  return { node: form, focus: () => (name() ? pass.input : user.input).focus() };

  function name() {
    return user.input.value;
  }
}
