// The log-in and sign-up screens: plain forms, server error codes turned into sentences next
// to the field they concern, and a password strength meter. The sign-up screen first asks the
// server its sign-up mode (PROTOCOL.md, "Sign-up modes and invites"): closed, it says so; invite
// only, it needs the invite from the link (`#/invite/<token>` or `#/signup?invite=<token>`),
// checks it and says plainly why a bad one does not work, before any form is filled in.

import { api } from '../api.js';
import { h, replace } from '../dom.js';
import * as session from '../session.js';
import { passwordStrength } from '../strength.js';

/** Human sentences for the server's error codes, per field (`*` = any field). */
const MESSAGES = {
  username: {
    empty: 'Choose a username.',
    too_short: 'Usernames have at least 3 characters.',
    too_long: 'Usernames have at most 32 characters.',
    bad_characters: 'Use letters, digits, “_”, “.” and “-”, starting with a letter or digit.',
    username_taken: 'That username is taken. Try another one.',
  },
  password: {
    empty: 'Choose a password.',
    too_short: 'Passwords have at least 8 characters.',
    too_long: 'Passwords have at most 256 characters.',
    bad_characters: 'Passwords cannot contain control characters.',
    too_weak: 'Too easy to guess: avoid common passwords, runs like aaaa or 1234, and your username.',
  },
  email: {
    empty: 'Enter an email address, or leave the field blank.',
    too_long: 'That email address is too long.',
    bad_characters: 'Email addresses cannot contain spaces.',
    malformed: 'That does not look like an email address.',
  },
  display_name: {
    empty: 'Enter a name, or leave the field blank.',
    too_long: 'Names have at most 64 characters.',
    bad_characters: 'Names cannot contain invisible or control characters.',
  },
  status: {
    too_long: 'A status has at most 100 characters.',
    bad_characters: 'A status cannot contain line breaks, invisible or control characters.',
  },
  avatar: {
    not_an_image: 'That is not a picture Kanect can read: use a JPEG, PNG, GIF or WebP file.',
    image_too_large: 'That picture is too large to read (at most 16,384 pixels a side, 50 megapixels).',
  },
  body: {
    empty: 'Write something first.',
    too_long: 'Messages have at most 4,000 characters.',
    bad_characters: 'Messages cannot contain control characters.',
  },
  '*': {
    not_member: 'You are not a member of this conversation.',
    conversation_not_found: 'That conversation is not available.',
    recipient_unavailable: 'That account is disabled or deleted: it cannot receive messages.',
    rate_limited: 'Too many at once. Wait a moment and try again.',
    not_sender: 'Only the sender can change this message.',
    message_deleted: 'That message was deleted.',
    bad_credentials: 'Wrong username or password.',
    account_disabled: 'This account has been disabled. Contact an administrator.',
    too_many_attempts: 'Too many failed attempts. Wait a moment and try again.',
    network: 'Cannot reach the server. Check your connection and try again.',
    unavailable: 'The server is busy. Try again in a moment.',
    shutting_down: 'The server is restarting. Try again in a moment.',
    attachment_not_found: 'A file of this message is no longer available (unsent files are kept a day). Attach it again.',
    attachment_in_use: 'A file of this message was sent with another one already.',
    not_emoji: 'That is not an emoji. React with one emoji (typed, pasted or picked).',
    too_many_reactions: 'This message has the most different reactions it can take (20).',
    sign_up_closed: 'This server does not take new sign-ups. An administrator creates accounts: ask one for yours.',
    invite_required: 'This server takes new accounts by invitation only. Open the invite link you were sent.',
    invite_invalid: 'This invite link does not work: it was revoked, or it is not complete. Ask for a new one.',
    invite_expired: 'This invite link has expired. Ask the person who sent it for a new one.',
    invite_used_up: 'This invite link has been used as many times as it allows. Ask for a new one.',
    wrong_password: 'That is not your current password.',
    avatar_too_large: 'That picture is over 5 MB: choose a smaller one.',
    session_not_found: 'That session has ended already.',
    self_action: 'An administrator cannot delete their own account: another administrator can, or can make you a user first.',
  },
  reply_to: {
    message_deleted: 'Not sent: the message it replies to was deleted.',
    out_of_range: 'Not sent: the message it replies to is not in this conversation.',
  },
  attachments: {
    too_long: 'A message carries at most 10 files.',
    repeated: 'The same file is attached twice.',
  },
};

/** The sentence for an error: by field and code, else a general one. */
export function errorText(err) {
  const byField = MESSAGES[err.field] || {};
  if (byField[err.code]) return byField[err.code];
  if (MESSAGES['*'][err.code]) {
    if (err.code === 'too_many_attempts' && err.retryAfter) {
      // Log-in slow-downs start at a second and double: say seconds until it is minutes.
      const [count, unit] = err.retryAfter < 60 ? [err.retryAfter, 'second'] : [Math.ceil(err.retryAfter / 60), 'minute'];
      return `Too many failed attempts. Try again in ${count} ${unit}${count === 1 ? '' : 's'}.`;
    }
    return MESSAGES['*'][err.code];
  }
  return err.message || 'Something went wrong. Try again.';
}

/** The same checks as the server, run before sending so errors show while typing. */
function checkLocally(field, value, form) {
  if (field === 'username') {
    if (!value.trim()) return 'empty';
    if (value.length > 32) return 'too_long';
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(value)) return 'bad_characters';
    if (value.length < 3) return 'too_short';
  } else if (field === 'password') {
    if (!value) return 'empty';
    if ([...value].length < 8) return 'too_short';
    if ([...value].length > 256) return 'too_long';
    if (passwordStrength(value, form.username.value).weak) return 'too_weak';
  } else if (field === 'email' && value.trim()) {
    if (/\s/.test(value.trim())) return 'bad_characters';
    const [local, domain, extra] = value.trim().split('@');
    if (!local || !domain || extra !== undefined || !domain.includes('.')) return 'malformed';
  } else if (field === 'display_name' && value && [...value.trim()].length > 64) {
    return 'too_long';
  }
  return null;
}

function field(name, label, input, hint) {
  const error = h('p', { class: 'field-error', id: `${name}-error`, 'data-error-for': name, 'aria-live': 'polite' });
  input.setAttribute('id', name);
  input.setAttribute('name', name);
  input.setAttribute('aria-describedby', `${name}-error`);
  return h('div', { class: 'field', 'data-field': name }, h('label', { for: name }, label), input, hint || null, error);
}

function setError(form, name, text) {
  const box = form.querySelector(`[data-field="${name}"]`);
  if (!box) return false;
  box.classList.toggle('invalid', Boolean(text));
  box.querySelector('.field-error').textContent = text || '';
  box.querySelector('input').setAttribute('aria-invalid', text ? 'true' : 'false');
  return true;
}

function brand(subtitle) {
  return h('div', { class: 'auth-brand' },
    h('div', { class: 'logo', 'aria-hidden': 'true' }, h('span', {}, 'K')),
    h('h1', {}, 'Kanect'),
    h('p', { class: 'muted' }, subtitle));
}

function formError() {
  return h('div', { class: 'form-error', role: 'alert', hidden: true });
}

function showFormError(box, text) {
  box.textContent = text || '';
  box.hidden = !text;
}

/** The log-in screen; `notice` is an optional message (e.g. "You were signed out"). */
export function renderLogin(root, notice) {
  const username = h('input', { type: 'text', autocomplete: 'username', required: true, spellcheck: 'false' });
  const password = h('input', { type: 'password', autocomplete: 'current-password', required: true });
  const error = formError();
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, 'Log in');
  const form = h('form', { class: 'auth-form', 'data-form': 'login', novalidate: true },
    notice ? h('div', { class: 'notice', role: 'status' }, notice) : null,
    error,
    field('username', 'Username', username),
    field('password', 'Password', password),
    submit);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    showFormError(error, '');
    if (!username.value.trim() || !password.value) {
      showFormError(error, 'Enter your username and password.');
      return;
    }
    submit.disabled = true;
    submit.textContent = 'Logging in…';
    try {
      await session.login(username.value.trim(), password.value);
      location.hash = '#/';
    } catch (err) {
      showFormError(error, errorText(err));
      password.value = '';
      password.focus();
    } finally {
      submit.disabled = false;
      submit.textContent = 'Log in';
    }
  });
  replace(root, h('main', { class: 'auth' },
    h('div', { class: 'auth-card' },
      brand('Welcome back. Log in to pick up your conversations.'),
      form,
      h('p', { class: 'auth-switch' }, h('a', { href: '#/reset', 'data-link': 'forgot' }, 'Forgot password?')),
      h('p', { class: 'auth-switch' }, 'New here? ', h('a', { href: '#/signup' }, 'Create an account')))));
  username.focus();
}

/** A sign-up screen without a form: why one cannot sign up here (`kind`: a stable name). */
function renderSignupNotice(root, kind, title, text) {
  replace(root, h('main', { class: 'auth' },
    h('div', { class: 'auth-card' },
      brand('Create an account and start talking.'),
      h('section', { class: 'signup-notice', 'data-signup': kind, role: 'alert' },
        h('h2', {}, title),
        h('p', {}, text)),
      h('p', { class: 'auth-switch' }, 'Already have an account? ', h('a', { href: '#/login' }, 'Log in')))));
}

/** "3 Mar 2026, 14:03". */
function dateTime(ms) {
  return new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(ms));
}

/**
 * The sign-up screen, as the server's mode has it; `token` is an invite's, from the link. A
 * server that cannot be asked gets the form: it decides anyway.
 */
export async function renderSignup(root, token = null) {
  const hash = location.hash;
  replace(root, h('main', { class: 'auth' },
    h('div', { class: 'auth-card' }, brand('Create an account and start talking.'), h('p', { class: 'muted', 'data-signup': 'loading' }, 'Loading…'))));
  let info = { mode: 'open' };
  try {
    info = await api.signupInfo();
  } catch {
    // Unknown: show the form, and the server's refusal if there is one.
  }
  if (location.hash !== hash) return;
  if (info.mode === 'closed') {
    renderSignupNotice(root, 'closed', 'Sign-ups are closed', MESSAGES['*'].sign_up_closed);
    return;
  }
  let invite = null;
  if (info.mode === 'invite') {
    if (!token) {
      renderSignupNotice(root, 'invite-required', 'Invitation only', MESSAGES['*'].invite_required);
      return;
    }
    try {
      invite = await api.inviteStatus(token);
    } catch (err) {
      if (location.hash !== hash) return;
      renderSignupNotice(root, 'invite-refused', 'This invite does not work', errorText(err));
      root.querySelector('[data-signup]').setAttribute('data-code', err.code || '');
      return;
    }
    if (location.hash !== hash) return;
  }
  renderSignupForm(root, invite ? token : null, invite);
}

/** The sign-up form; with an invite (`token`, its `status`), it says so and sends it along. */
function renderSignupForm(root, token, status) {
  const username = h('input', { type: 'text', autocomplete: 'username', required: true, spellcheck: 'false', maxlength: '64' });
  const displayName = h('input', { type: 'text', autocomplete: 'name', maxlength: '128' });
  const email = h('input', { type: 'email', autocomplete: 'email', inputmode: 'email' });
  const password = h('input', { type: 'password', autocomplete: 'new-password', required: true });
  const meterBar = h('span', { class: 'meter-bar' });
  const meterLabel = h('span', { class: 'meter-label', 'data-strength-label': '' }, ' ');
  const meter = h('div', { class: 'meter', 'data-score': '0', 'aria-live': 'polite' }, h('span', { class: 'meter-track' }, meterBar), meterLabel);
  const error = formError();
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, 'Create account');
  const invited = status
    ? h('div', { class: 'notice', role: 'status', 'data-signup': 'invited' },
      `You were invited. This link allows ${status.uses_left} more sign-up${status.uses_left === 1 ? '' : 's'}, until ${dateTime(status.expires_at)}.`)
    : null;
  const form = h('form', { class: 'auth-form', 'data-form': 'signup', novalidate: true },
    invited,
    error,
    field('username', 'Username', username, h('p', { class: 'hint' }, '3–32 letters, digits, “_”, “.” or “-”.')),
    field('display_name', 'Display name (optional)', displayName),
    field('email', 'Email (optional)', email),
    field('password', 'Password', password, meter),
    submit);

  const updateMeter = () => {
    const s = passwordStrength(password.value, username.value);
    meter.setAttribute('data-score', String(password.value ? s.score : 0));
    meterLabel.textContent = password.value ? s.label : ' ';
  };
  password.addEventListener('input', updateMeter);
  username.addEventListener('input', updateMeter);
  const touched = new Set();
  for (const input of [username, displayName, email, password]) {
    input.addEventListener('blur', () => {
      if (!input.value) return;
      touched.add(input.name);
      const code = checkLocally(input.name, input.value, form);
      setError(form, input.name, code ? MESSAGES[input.name][code] : '');
    });
    input.addEventListener('input', () => {
      if (!touched.has(input.name)) return;
      const code = checkLocally(input.name, input.value, form);
      setError(form, input.name, code ? MESSAGES[input.name][code] : '');
    });
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    showFormError(error, '');
    let first = null;
    for (const input of [username, displayName, email, password]) {
      const code = checkLocally(input.name, input.value, form);
      setError(form, input.name, code ? MESSAGES[input.name][code] : '');
      touched.add(input.name);
      if (code && !first) first = input;
    }
    if (first) {
      first.focus();
      return;
    }
    const fields = { username: username.value.trim(), password: password.value };
    if (email.value.trim()) fields.email = email.value.trim();
    if (displayName.value.trim()) fields.display_name = displayName.value.trim();
    if (token) fields.invite = token;
    submit.disabled = true;
    submit.textContent = 'Creating account…';
    try {
      await session.signup(fields);
      location.hash = '#/';
    } catch (err) {
      const name = err.code === 'username_taken' ? 'username' : err.field;
      if (!(name && setError(form, name, errorText({ ...err, field: name })))) showFormError(error, errorText(err));
      const input = name && form.querySelector(`#${name}`);
      if (input) input.focus();
    } finally {
      submit.disabled = false;
      submit.textContent = 'Create account';
    }
  });
  replace(root, h('main', { class: 'auth' },
    h('div', { class: 'auth-card' },
      brand('Create an account and start talking.'),
      form,
      h('p', { class: 'auth-switch' }, 'Already have an account? ', h('a', { href: '#/login' }, 'Log in')))));
  username.focus();
}
