// Settings › E-mail (`#/settings/email`): what this server does with mail, the address and
// whether it is confirmed (with "send the link again" where the server confirms addresses),
// changing it (the current password confirms), and missed-message digests on or off.
//
// What the server supports comes from `GET /email` (api.js's mailFeatures): a server without a
// mailer says so at the top and offers neither the link again nor digests, which it could not
// send; the address can still be set, for password resets once mail is configured.

import { mailFeatures, request } from '../api.js';
import { h, replace, toast } from '../dom.js';
import { state } from '../state.js';
import { errorText } from './auth.js';

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

/** The address and, where the server confirms addresses, whether it is confirmed. */
function addressLine(me, confirms) {
  if (!me.email) return h('p', { 'data-email-status': 'none' }, 'No address: you cannot reset a forgotten password by e-mail.');
  if (!confirms) return h('p', { 'data-email-status': 'set' }, h('strong', {}, me.email));
  const verified = Boolean(me.email_verified);
  return h('p', { 'data-email-status': verified ? 'verified' : 'unverified' },
    h('strong', {}, me.email), ' — ', verified ? 'confirmed' : 'not confirmed yet');
}

/** "Send the confirmation link again", for an address not confirmed yet. */
function resendButton() {
  const resend = h('button', { type: 'button', class: 'btn', 'data-action': 'resend' }, 'Send the confirmation link again');
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
  return h('div', { class: 'row' }, resend);
}

/** The change-of-address form; `changed()` runs once the server took a new one. */
function changeForm(me, changed) {
  const email = h('input', { type: 'email', id: 'new-email', name: 'email', autocomplete: 'email', value: me.email || '' });
  const password = h('input', { type: 'password', id: 'current-password', name: 'current_password', autocomplete: 'current-password' });
  const error = h('div', { class: 'form-error', role: 'alert', hidden: true });
  const save = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Change address');
  const form = h('form', { class: 'settings-card', 'data-form': 'change-email', novalidate: true },
    h('h2', {}, 'Change it'),
    error,
    h('div', { class: 'field' }, h('label', { for: 'new-email' }, 'New address (empty removes it)'), email),
    h('div', { class: 'field' }, h('label', { for: 'current-password' }, 'Current password'), password),
    h('div', { class: 'row row-end' }, save));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.hidden = true;
    save.disabled = true;
    try {
      const user = await request('PUT', '/me/email', { current_password: password.value, email: email.value.trim() || null });
      state.me = { ...state.me, ...user, email_verified: Boolean(user.email_verified) };
      toast(user.email ? 'Address changed: a confirmation link is on its way to it.' : 'Address removed.');
      changed();
    } catch (err) {
      error.textContent = say(err);
      error.hidden = false;
      password.value = '';
    } finally {
      save.disabled = false;
    }
  });
  return form;
}

/** The missed-message digests switch. */
function digestsCard(me) {
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
  return h('section', { class: 'settings-card', 'data-section': 'digests' },
    h('h2', {}, 'Missed messages'),
    h('label', { class: 'check', for: 'digests' }, digests, ' Mail me when messages wait for me while I am away'));
}

/** Renders the e-mail tab into `main`. */
export async function renderEmail(main) {
  const features = await mailFeatures();
  const me = state.me;
  const confirms = features.enabled && features.verification !== 'off';
  const notConfigured = features.enabled ? null
    : h('p', { class: 'notice', 'data-mail': 'off' }, 'E-mail is not configured on this server: it sends no confirmation links, password resets or digests.');
  replace(main,
    h('section', { class: 'settings-card', 'data-section': 'address', 'data-mail': features.enabled ? 'on' : 'off' },
      h('h2', {}, 'Your address'),
      notConfigured,
      addressLine(me, confirms),
      confirms && me.email && !me.email_verified ? resendButton() : null),
    changeForm(me, () => renderEmail(main)),
    features.enabled ? digestsCard(me) : null);
}
