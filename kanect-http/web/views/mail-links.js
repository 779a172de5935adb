// The pages e-mail links open, and the one that asks for a reset link: `#/verify/<token>`
// (confirms an address), `#/reset` (asks for a password-reset link, from "Forgot password?" on
// the log-in page), `#/reset/<token>` (sets the new password) and `#/unsubscribe/<token>` (stops
// missed-message digests after a click: a mail scanner that opens the link changes nothing).
// Each is a card on the log-in page's background, and works signed in or out.

import { request } from '../api.js';
import { h, replace } from '../dom.js';
import { route } from '../router.js';
import { passwordStrength } from '../strength.js';
import { state } from '../state.js';
import { errorText } from './auth.js';
import { hideShell } from './shell.js';

/** Sentences for the codes these pages meet. */
const MESSAGES = {
  invalid_token: 'This link does not work: it was used already, a newer mail replaced it, or it was mistyped.',
  token_expired: 'This link has expired. Ask for a new one.',
  mail_disabled: 'This server does not send e-mail. Ask an administrator to reset your password.',
  rate_limited: 'Too many requests for now. Wait a while and try again.',
  empty: 'Enter your e-mail address or username.',
  too_long: 'That is longer than any address.',
};

function say(err) {
  return MESSAGES[err.code] || errorText(err);
}

/** A card page: title, then `body` nodes, then a way back. */
function card(root, title, ...body) {
  hideShell();
  const back = state.me ? h('a', { href: '#/' }, 'Back to your conversations') : h('a', { href: '#/login' }, 'Back to log-in');
  replace(root, h('main', { class: 'auth' },
    h('div', { class: 'auth-card', 'data-page': 'mail-link' },
      h('div', { class: 'auth-brand' }, h('div', { class: 'logo', 'aria-hidden': 'true' }, h('span', {}, 'K')), h('h1', {}, title)),
      ...body,
      h('p', { class: 'auth-switch' }, back))));
}

function status(text, kind = 'notice') {
  return h('div', { class: kind, role: kind === 'form-error' ? 'alert' : 'status' }, text);
}

async function renderVerify(root, token) {
  const box = h('div', {}, status('Confirming your address…'));
  card(root, 'E-mail address', box);
  try {
    const user = await request('POST', '/email/verify', { token });
    if (state.me && state.me.id === user.id) state.me = { ...state.me, ...user };
    replace(box, status(`Thank you: ${user.email} is confirmed.`));
  } catch (err) {
    replace(box, status(say(err), 'form-error'));
  }
}

function renderResetRequest(root) {
  const account = h('input', { type: 'text', id: 'account', name: 'account', autocomplete: 'email', required: true, spellcheck: 'false' });
  const result = h('div', { 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, 'Send me a link');
  const form = h('form', { class: 'auth-form', 'data-form': 'reset-request', novalidate: true },
    h('p', { class: 'muted' }, 'Enter the e-mail address of your account, or its username. We mail a link to set a new password.'),
    result,
    h('div', { class: 'field' }, h('label', { for: 'account' }, 'E-mail address or username'), account),
    submit);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    submit.disabled = true;
    try {
      await request('POST', '/auth/reset', { account: account.value.trim() });
      replace(result, status('If an account has that address or username, a link is on its way. It works once, for an hour.'));
      account.value = '';
    } catch (err) {
      replace(result, status(say(err), 'form-error'));
    } finally {
      submit.disabled = false;
    }
  });
  card(root, 'Forgot your password?', form);
  account.focus();
}

function renderResetConfirm(root, token) {
  const password = h('input', { type: 'password', id: 'password', name: 'password', autocomplete: 'new-password', required: true });
  const meter = h('p', { class: 'hint', 'data-strength-label': '', 'aria-live': 'polite' });
  password.addEventListener('input', () => {
    meter.textContent = password.value ? passwordStrength(password.value, '').label : '';
  });
  const result = h('div', { 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, 'Set the new password');
  const form = h('form', { class: 'auth-form', 'data-form': 'reset-confirm', novalidate: true },
    result,
    h('div', { class: 'field' }, h('label', { for: 'password' }, 'New password'), password, meter),
    submit);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    submit.disabled = true;
    try {
      await request('POST', '/auth/reset/confirm', { token, password: password.value });
      replace(form, status('Your password is changed, and every device was logged out.'),
        h('a', { class: 'btn btn-primary btn-block', href: '#/login' }, 'Log in'));
    } catch (err) {
      replace(result, status(say(err), 'form-error'));
      submit.disabled = false;
    }
  });
  card(root, 'Choose a new password', form);
  password.focus();
}

function renderUnsubscribe(root, token) {
  const result = h('div', { 'aria-live': 'polite' });
  const submit = h('button', { type: 'button', class: 'btn btn-primary btn-block', 'data-action': 'unsubscribe' }, 'Stop these e-mails');
  submit.addEventListener('click', async () => {
    submit.disabled = true;
    try {
      await request('POST', `/email/unsubscribe?token=${encodeURIComponent(token)}`);
      replace(result, status('Done: no more missed-message e-mails. You can turn them back on in your e-mail settings.'));
      submit.hidden = true;
    } catch (err) {
      replace(result, status(say(err), 'form-error'));
      submit.disabled = false;
    }
  });
  card(root, 'Missed-message e-mails', h('p', { class: 'muted' }, 'Stop the e-mails about messages that wait for you?'), result, submit);
}

/** Registers the pages' routes; they render into `root`. */
export function registerMailRoutes(root) {
  route(/^\/verify\/([0-9a-f]{64})$/, (m) => renderVerify(root, m[1]), 'any');
  route(/^\/reset$/, () => renderResetRequest(root), 'any');
  route(/^\/reset\/([0-9a-f]{64})$/, (m) => renderResetConfirm(root, m[1]), 'any');
  route(/^\/unsubscribe\/([0-9a-f]{64})$/, (m) => renderUnsubscribe(root, m[1]), 'any');
}
