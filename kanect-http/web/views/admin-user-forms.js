// The admin's account forms, as Django's admin had them: "New user" (username, password,
// optional display name and e-mail, role) and "Edit" (display name, e-mail). Each is a modal
// form whose errors come from the server's codes, shown next to the field they name.

import { h } from '../dom.js';
import { adminApi, adminErrorText } from './admin-common.js';

/** A labelled input with its error line; `name` is the server's field name. */
function field(name, label, input) {
  input.setAttribute('id', `admin-${name}`);
  input.setAttribute('name', name);
  return h('div', { class: 'field', 'data-field': name },
    h('label', { for: `admin-${name}` }, label), input,
    h('p', { class: 'field-error', 'data-error-for': name, 'aria-live': 'polite' }));
}

/**
 * A modal form: `fields` (from `field`), a submit label, and `submit(values)` which calls the
 * server; resolves with its answer, or null if cancelled.
 */
function formDialog(title, name, fields, okLabel, submit) {
  return new Promise((resolve) => {
    let result = null;
    const general = h('p', { class: 'form-error', role: 'alert', hidden: true });
    const ok = h('button', { type: 'submit', class: 'btn btn-primary', 'data-action': `submit-${name}` }, okLabel);
    const cancel = h('button', { type: 'button', class: 'btn' }, 'Cancel');
    const form = h('form', { class: 'dialog-form', novalidate: true },
      h('header', { class: 'dialog-head' }, h('h2', {}, title)),
      h('div', { class: 'dialog-body' }, general, fields),
      h('footer', { class: 'dialog-foot' }, cancel, ok));
    const dialog = h('dialog', { class: 'dialog', 'aria-label': title, 'data-dialog': name }, form);
    const close = () => dialog.open && dialog.close();
    cancel.addEventListener('click', close);
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(result);
    });
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      general.hidden = true;
      for (const box of form.querySelectorAll('.field')) {
        box.classList.remove('invalid');
        box.querySelector('.field-error').textContent = '';
      }
      const values = {};
      for (const input of form.querySelectorAll('input, select')) values[input.name] = input.value;
      ok.disabled = true;
      try {
        result = await submit(values);
        close();
      } catch (err) {
        const named = err.code === 'username_taken' ? 'username' : err.field;
        const box = named && form.querySelector(`[data-field="${named}"]`);
        const text = adminErrorText({ ...err, field: named });
        if (box) {
          box.classList.add('invalid');
          box.querySelector('.field-error').textContent = text;
          box.querySelector('input, select').focus();
        } else {
          general.textContent = text;
          general.hidden = false;
        }
      } finally {
        ok.disabled = false;
      }
    });
    document.body.append(dialog);
    dialog.showModal();
    const first = form.querySelector('input');
    if (first) first.focus();
  });
}

/** "New user": resolves with the account made, or null. */
export function newUserDialog() {
  const role = h('select', {}, h('option', { value: 'user' }, 'User'), h('option', { value: 'admin' }, 'Administrator'));
  const fields = [
    field('username', 'Username', h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', maxlength: '64' })),
    field('password', 'Password', h('input', { type: 'password', autocomplete: 'new-password', maxlength: '256' })),
    field('display_name', 'Display name (optional)', h('input', { type: 'text', autocomplete: 'off', maxlength: '128' })),
    field('email', 'Email (optional)', h('input', { type: 'email', autocomplete: 'off', inputmode: 'email' })),
    field('role', 'Role', role),
  ];
  return formDialog('New user', 'new-user', fields, 'Create account', (values) => {
    const body = { username: values.username.trim(), password: values.password, role: values.role };
    if (values.display_name.trim()) body.display_name = values.display_name.trim();
    if (values.email.trim()) body.email = values.email.trim();
    return adminApi.createUser(body);
  });
}

/** "Edit" an account's display name and e-mail (empty clears): resolves with it, or null. */
export function editUserDialog(view) {
  const fields = [
    field('display_name', 'Display name', h('input', { type: 'text', autocomplete: 'off', maxlength: '128', value: view.display_name || '' })),
    field('email', 'Email', h('input', { type: 'email', autocomplete: 'off', inputmode: 'email', value: view.email || '' })),
  ];
  return formDialog(`Edit @${view.username}`, 'edit-user', fields, 'Save', (values) =>
    adminApi.editUser(view.id, { display_name: values.display_name.trim(), email: values.email.trim() }));
}
