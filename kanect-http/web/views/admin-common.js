// What the admin pages share: the admin API calls (PROTOCOL.md, "Admin API"), a cache of user
// names for ids shown in lists (audit actors, senders, members), error text for admin codes,
// a "load more" button and a small password prompt. All user text goes in as text nodes.

import { request } from '../api.js';
import { displayName, h } from '../dom.js';
import { fullTime, lastSeen } from '../time.js';
import { errorText } from './auth.js';

/** How many rows one page asks for. */
export const PAGE = 25;

const enc = encodeURIComponent;

/** A query string from the non-empty values of `params`. */
function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** The admin endpoints, one function each. */
export const adminApi = {
  users: ({ search, after, limit = PAGE } = {}) => request('GET', `/admin/users${query({ search, after, limit })}`),
  user: (id) => request('GET', `/admin/users/${enc(id)}`),
  setDisabled: (id, disabled) => request('PUT', `/admin/users/${enc(id)}/disabled`, { disabled }),
  setRole: (id, role) => request('PUT', `/admin/users/${enc(id)}/role`, { role }),
  resetPassword: (id, password) => request('POST', `/admin/users/${enc(id)}/password`, { password }),
  deleteUser: (id) => request('DELETE', `/admin/users/${enc(id)}`),
  conversations: ({ after, limit = PAGE } = {}) => request('GET', `/admin/conversations${query({ after, limit })}`),
  messages: (id, { before, limit = PAGE } = {}) => request('GET', `/admin/conversations/${enc(id)}/messages${query({ before, limit })}`),
  deleteMessage: (id) => request('DELETE', `/admin/messages/${enc(id)}`),
  stats: () => request('GET', '/admin/stats'),
  audit: ({ before, limit = PAGE } = {}) => request('GET', `/admin/audit${query({ before, limit })}`),
  invites: ({ before, limit = PAGE } = {}) => request('GET', `/admin/invites${query({ before, limit })}`),
  createUser: (fields) => request('POST', '/admin/users', fields),
  editUser: (id, fields) => request('PATCH', `/admin/users/${enc(id)}`, fields),
};

const ADMIN_ERRORS = {
  self_action: 'You cannot do that to your own account.',
  admin_only: 'Only administrators can do that.',
  user_not_found: 'That account no longer exists.',
  conversation_not_found: 'That conversation no longer exists.',
  message_not_found: 'That message no longer exists.',
};

/** Words for an error from the admin API (password codes come through `errorText`). */
export function adminErrorText(err) {
  return ADMIN_ERRORS[err && err.code] || errorText(err || {});
}

// id -> Promise<user or null>: each account is fetched once per visit to the admin area.
const names = new Map();

/** Forgets the cached names (a new visit, or an account changed). */
export function forgetNames(id) {
  if (id) names.delete(id);
  else names.clear();
}

/** Remembers a user the page already has, so lists do not fetch it again. */
export function rememberUser(user) {
  names.set(user.id, Promise.resolve(user));
}

/** The user with `id`, or null if it does not exist (deleted accounts). */
export function userById(id) {
  if (!names.has(id)) {
    names.set(id, adminApi.user(id).catch((err) => {
      if (err.code !== 'user_not_found') names.delete(id);
      return null;
    }));
  }
  return names.get(id);
}

// id -> username of accounts the audit log says were deleted, to name them in older entries.
const deletedNames = new Map();

/** Records that the account `id` (username `username`) was deleted. */
export function rememberDeleted(id, username) {
  if (username) deletedNames.set(id, username);
}

/** A span that fills in with the user's name once known ("deleted account" if gone). */
export function userLabel(id, { link = true } = {}) {
  const el = h(link ? 'a' : 'span', { class: 'admin-who', href: link ? `#/admin/users/${id}` : null, 'data-user': id }, '…');
  userById(id).then((user) => {
    if (user) {
      el.textContent = displayName(user);
      el.title = `@${user.username}`;
    } else {
      el.textContent = deletedNames.has(id) ? `@${deletedNames.get(id)} (deleted)` : 'deleted account';
      el.removeAttribute('href');
      el.classList.add('admin-gone');
    }
  });
  return el;
}

/** A date and time for tables: "3 Mar 2026, 14:03". */
export function when(ms) {
  if (!ms) return '—';
  return new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(ms));
}

/** A date without the time, for list columns: "Nov 24, 2026". */
export function day(ms) {
  if (!ms) return '—';
  return new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' }).format(new Date(ms));
}

/** A <time> element with the full date as its tooltip. */
export function timeEl(ms, text = when(ms)) {
  return h('time', { title: ms ? fullTime(ms) : null }, text);
}

/** "online" or "last seen …" for an admin user view. */
export function presenceText(view) {
  if (view.presence && view.presence.online) return 'online';
  const seen = (view.presence && view.presence.last_seen) || view.last_seen;
  return seen ? lastSeen(seen) : 'never connected';
}

/**
 * A "Load more" button for a paged list: `load(cursor)` resolves with the next cursor (or
 * null when done). Returns `{el, reset(cursor), exhausted()}`.
 */
export function loadMore(load, label = 'Load more') {
  let cursor = null;
  const button = h('button', { type: 'button', class: 'btn admin-more', 'data-action': 'load-more' }, label);
  const el = h('div', { class: 'admin-more-row', hidden: true }, button);
  button.addEventListener('click', async () => {
    button.disabled = true;
    button.textContent = 'Loading…';
    try {
      cursor = await load(cursor);
      el.hidden = cursor === null || cursor === undefined;
    } catch (err) {
      el.after(failure(err));
    } finally {
      button.disabled = false;
      button.textContent = label;
    }
  });
  return {
    el,
    reset(next) {
      cursor = next;
      el.hidden = next === null || next === undefined;
    },
    /** Whether every page has been loaded. */
    exhausted() {
      return cursor === null || cursor === undefined;
    },
  };
}

/** A page heading with an optional line under it and actions on the right. */
export function pageHead(title, sub, ...actions) {
  return h('div', { class: 'admin-head' },
    h('div', { class: 'admin-head-text' }, h('h2', {}, title), sub ? h('p', { class: 'muted' }, sub) : null),
    actions.length ? h('div', { class: 'admin-head-actions' }, actions) : null);
}

/** An inline error box. */
export function failure(err) {
  return h('p', { class: 'form-error admin-error', role: 'alert' }, adminErrorText(err));
}

/** A small tag ("admin", "disabled", "online"). */
export function tag(text, kind = '') {
  return h('span', { class: `tag${kind ? ` tag-${kind}` : ''}`, 'data-tag': text }, text);
}

/**
 * Asks for a new password in a modal dialog and calls `submit(password)`; server validation
 * errors (too_short, too_weak…) show under the field and keep the dialog open. Resolves true
 * once `submit` succeeded, false if cancelled.
 */
export function passwordPrompt(title, intro, submit) {
  return new Promise((resolve) => {
    let done = false;
    const input = h('input', { type: 'password', id: 'admin-new-password', autocomplete: 'new-password', maxlength: '256' });
    const error = h('p', { class: 'field-error', 'data-error-for': 'password', role: 'alert' });
    const field = h('div', { class: 'field' }, h('label', { for: 'admin-new-password' }, 'New password'), input, error);
    const ok = h('button', { type: 'submit', class: 'btn btn-primary', 'data-action': 'confirm-password' }, 'Set password');
    const cancel = h('button', { type: 'button', class: 'btn' }, 'Cancel');
    const form = h('form', { class: 'dialog-form', novalidate: true },
      h('header', { class: 'dialog-head' }, h('h2', {}, title)),
      h('div', { class: 'dialog-body' }, h('p', { class: 'muted' }, intro), field),
      h('footer', { class: 'dialog-foot' }, cancel, ok));
    const dialog = h('dialog', { class: 'dialog', 'aria-label': title, 'data-dialog': 'reset-password' }, form);
    const close = () => dialog.open && dialog.close();
    cancel.addEventListener('click', close);
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(done);
    });
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      error.textContent = '';
      field.classList.remove('invalid');
      if (!input.value) {
        error.textContent = 'Enter the new password.';
        field.classList.add('invalid');
        return;
      }
      ok.disabled = true;
      try {
        await submit(input.value);
        done = true;
        close();
      } catch (err) {
        error.textContent = adminErrorText({ ...err, field: err.field || 'password' });
        field.classList.add('invalid');
        input.focus();
      } finally {
        ok.disabled = false;
      }
    });
    document.body.append(dialog);
    dialog.showModal();
    input.focus();
  });
}
