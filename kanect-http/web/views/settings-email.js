// The e-mail tab of the settings (`#/settings/email`): the address and whether it is
// verified (with "send the link again"), changing it (the current password confirms), and
// missed-message digests on or off. Registers its own route; the settings page links to it.

import { request } from '../api.js';
import { h, replace, toast } from '../dom.js';
import { route } from '../router.js';
import { state } from '../state.js';
import { errorText } from './auth.js';
import { hideShell } from './shell.js';

const MESSAGES = {
  wrong_password: 'That is not your current password.',
  malformed: 'That does not look like an e-mail address.',
  mail_disabled: 'This server does not send e-mail.',
  no_email: 'Add an address first.',
  rate_limited: 'A link was sent a moment ago. Wait a while before asking again.',
};

function say(err) {
  return MESSAGES[err.code] || errorText(err);
}

function addressLine(me) {
  if (!me.email) return h('p', { 'data-email-status': 'none' }, 'No address: you cannot reset a forgotten password by e-mail.');
  const verified = Boolean(me.email_verified);
  return h('p', { 'data-email-status': verified ? 'verified' : 'unverified' },
    h('strong', {}, me.email), ' — ', verified ? 'confirmed' : 'not confirmed yet');
}

function render(root) {
  hideShell();
  const me = state.me;
  const status = h('div', {}, addressLine(me));
  const resend = h('button', { type: 'button', class: 'btn', 'data-action': 'resend' }, 'Send the confirmation link again');
  resend.hidden = !me.email || Boolean(me.email_verified);
  resend.addEventListener('click', async () => {
    resend.disabled = true;
    try {
      await request('POST', '/email/verify/resend');
      toast('Sent: check your inbox.');
    } catch (err) {
      toast(say(err), 'error');
    } finally {
      resend.disabled = false;
    }
  });

  const email = h('input', { type: 'email', id: 'new-email', name: 'email', autocomplete: 'email', value: me.email || '' });
  const password = h('input', { type: 'password', id: 'current-password', name: 'current_password', autocomplete: 'current-password' });
  const error = h('div', { class: 'form-error', role: 'alert', hidden: true });
  const save = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Change address');
  const form = h('form', { class: 'auth-form', 'data-form': 'change-email', novalidate: true },
    error,
    h('div', { class: 'field' }, h('label', { for: 'new-email' }, 'New address (empty removes it)'), email),
    h('div', { class: 'field' }, h('label', { for: 'current-password' }, 'Current password'), password),
    save);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.hidden = true;
    save.disabled = true;
    try {
      const user = await request('PUT', '/me/email', { current_password: password.value, email: email.value.trim() || null });
      state.me = { ...state.me, ...user, email_verified: Boolean(user.email_verified) };
      toast(user.email ? 'Address changed: a confirmation link is on its way to it.' : 'Address removed.');
      render(root);
    } catch (err) {
      error.textContent = say(err);
      error.hidden = false;
      password.value = '';
    } finally {
      save.disabled = false;
    }
  });

  const digests = h('input', { type: 'checkbox', id: 'digests', name: 'digests' });
  digests.checked = !me.digests_off;
  digests.addEventListener('change', async () => {
    try {
      const user = await request('PUT', '/me/email/digests', { on: digests.checked });
      state.me = { ...state.me, digests_off: Boolean(user.digests_off) };
    } catch (err) {
      digests.checked = !digests.checked;
      toast(say(err), 'error');
    }
  });

  replace(root, h('main', { class: 'auth' },
    h('div', { class: 'auth-card settings-email', 'data-page': 'settings-email' },
      h('h1', {}, 'E-mail'),
      h('section', {}, h('h2', {}, 'Your address'), status, resend),
      h('section', {}, h('h2', {}, 'Change it'), form),
      h('section', {}, h('h2', {}, 'Missed messages'),
        h('label', { class: 'check' }, digests, ' Mail me when messages wait for me while I am away')),
      h('p', { class: 'auth-switch' }, h('a', { href: '#/' }, 'Back to your conversations')))));
}

/** Registers `#/settings/email`, rendering into `root`. */
export function registerEmailSettings(root) {
  route(/^\/settings\/email$/, () => render(root));
}
