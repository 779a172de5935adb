// Admin pages for accounts: the searchable, paged list (with "New user"), and one account with
// its actions (edit display name and e-mail, disable / enable, make admin / make user, reset
// password, delete); the two forms are views/admin-user-forms.js. The engine refuses
// actions on one's own account (`self_action`), so the page does not offer them.
//
// Both follow the directory while open: a `user` or `user_deleted` frame (session.js emits
// 'directory' with the id) makes them read that account again, so another administrator's
// change, a sign-up or a deletion shows without a reload. Presence in the list follows the
// session's presence frames; after a reconnect (frames are not replayed) both read again.

import { avatar, displayName, h, plural, replace, toast } from '../dom.js';
import { on, state } from '../state.js';
import { confirmDialog } from './dialogs.js';
import { editUserDialog, newUserDialog } from './admin-user-forms.js';
import {
  adminApi, failure, forgetNames, loadMore, passwordPrompt, pageHead, presenceText, rememberUser, tag, timeEl, day,
} from './admin-common.js';

const SEARCH_DELAY_MS = 250;
/** How long account changes are gathered before the list follows them. */
const FOLLOW_WAIT_MS = 200;
/** Past this many changed accounts at once, the list's page is read again instead. */
const FOLLOW_ONE_BY_ONE = 10;

/** What deleting an account does, in words (kanect-core/src/admin.rs, module docs). */
const DELETE_TEXT = 'Their account, password and sessions are removed and they leave every group (group ownership '
  + 'passes to another member). Their messages stay where they are and show as sent by a deleted account; their '
  + 'direct conversations stay readable by the other person. This cannot be undone.';

/** The tags for an account: admin, disabled, online. */
function tagsOf(view, withOnline = true) {
  return [
    view.role === 'admin' ? tag('admin', 'admin') : null,
    view.disabled ? tag('disabled', 'danger') : null,
    withOnline && view.presence && view.presence.online ? tag('online', 'online') : null,
  ];
}

/** One row of the user list (a link to the account's page). */
function userRow(view) {
  rememberUser(view);
  const online = Boolean(view.presence && view.presence.online);
  return h('a', {
    class: `admin-row user-row${view.disabled ? ' is-disabled' : ''}`,
    href: `#/admin/users/${view.id}`,
    'data-username': view.username,
    'data-disabled': String(view.disabled),
    'data-role': view.role,
  },
  h('span', { class: 'cell cell-who' },
    avatar(view.id, displayName(view), { size: 'sm', online }),
    h('span', { class: 'who-text' },
      h('span', { class: 'who-name' }, displayName(view)),
      h('span', { class: 'who-sub muted' }, `@${view.username}`, view.email ? ` · ${view.email}` : ''))),
  h('span', { class: 'cell cell-tags' }, tagsOf(view, false)),
  h('span', { class: `cell cell-seen ${online ? 'online-text' : 'muted'}`, 'data-presence': online ? 'online' : 'offline' }, presenceText(view)),
  h('span', { class: 'cell cell-count muted' }, plural(view.conversations, 'conversation')),
  h('span', { class: 'cell cell-created muted' }, timeEl(view.created_at, day(view.created_at))));
}

/** Whether an account matches the list's search, as the server matches it (store.rs). */
function matchesSearch(view, text) {
  const needle = text.toLowerCase();
  return view.username.toLowerCase().includes(needle) || (view.display_name || '').toLowerCase().includes(needle);
}

/** Runs `fn` on `topic` while `el` is on screen; the first event after it is gone unsubscribes. */
function whileShown(el, topic, fn) {
  const off = on(topic, (detail) => {
    if (el.isConnected) fn(detail);
    else off();
  });
}

/** The empty list's line. */
function emptyLine(text) {
  return h('p', { class: 'list-empty' }, text ? 'No account matches that search.' : 'No accounts yet.');
}

/** The account list: a search box, rows, "load more". */
export function renderUsers(main, denied) {
  const search = h('input', {
    type: 'search', class: 'filter admin-search', placeholder: 'Search by username or name', 'aria-label': 'Search users',
    spellcheck: 'false', autocomplete: 'off',
  });
  const list = h('div', { class: 'admin-table', role: 'list', 'data-admin': 'users' });
  const status = h('p', { class: 'admin-count muted', role: 'status' });
  let text = '';
  let generation = 0;
  // The accounts listed, by id: each one's view and row.
  const shown = new Map();
  const row = (view) => {
    const el = userRow(view);
    shown.set(view.id, { view, el });
    return el;
  };
  const more = loadMore(async (after) => {
    const { users, next } = await adminApi.users({ search: text, after });
    list.append(...users.filter((u) => !shown.has(u.id)).map(row));
    return next;
  });
  const load = async () => {
    const mine = ++generation;
    try {
      const { users, next } = await adminApi.users({ search: text });
      if (mine !== generation) return;
      shown.clear();
      replace(list, users.length ? users.map(row) : emptyLine(text));
      status.textContent = text ? `Matching “${text}”` : 'All accounts, by username';
      more.reset(next);
    } catch (err) {
      if (mine === generation && !denied(err)) replace(list, failure(err));
    }
  };
  // An account changed, appeared or went: read it again and mend or drop its row, or place a
  // new one where the list's order puts it (past the loaded pages, "load more" finds it).
  const follow = async (id) => {
    const mine = generation;
    let view = null;
    try {
      view = await adminApi.user(id);
    } catch (err) {
      if (err.code !== 'user_not_found') return;
    }
    if (mine !== generation || !list.isConnected) return;
    const belongs = view && (!text || matchesSearch(view, text));
    const listed = shown.get(id);
    if (listed && belongs) {
      listed.el.replaceWith(row(view));
    } else if (listed) {
      shown.delete(id);
      listed.el.remove();
      if (!shown.size && more.exhausted()) replace(list, emptyLine(text));
    } else if (belongs) {
      place(view);
    }
  };
  // A new row goes before the first row that sorts after it; after the last one only if no
  // page is left to load (else "load more" brings it in its place).
  const place = (view) => {
    const name = view.username.toLowerCase();
    let next = null;
    for (const s of shown.values()) {
      const other = s.view.username.toLowerCase();
      if (other > name && (!next || other < next.view.username.toLowerCase())) next = s;
    }
    if (!next && !more.exhausted()) return;
    if (!shown.size) replace(list);
    const el = row(view);
    if (next) next.el.before(el);
    else list.append(el);
  };
  // Frames are gathered for a moment and followed one account at a time, in order, so a
  // burst of sign-ups costs one read each (or, past a few, one read of the page) and no
  // older answer lands after a newer one.
  const changed = new Set();
  let gathering = null;
  let following = Promise.resolve();
  const followChanged = () => {
    gathering = null;
    const ids = [...changed];
    changed.clear();
    following = following.then(async () => {
      if (ids.length > FOLLOW_ONE_BY_ONE) await load();
      else for (const id of ids) await follow(id);
    });
  };
  whileShown(list, 'directory', (id) => {
    changed.add(id);
    if (!gathering) gathering = setTimeout(followChanged, FOLLOW_WAIT_MS);
  });
  // Presence as the server reports it live (only for accounts the session follows; the
  // others keep what the list read).
  whileShown(list, 'presence', (frame) => {
    const listed = shown.get(frame.user);
    if (!listed) return;
    const presence = { user: frame.user, online: frame.online, last_seen: frame.last_seen ?? listed.view.presence?.last_seen ?? null };
    listed.el.replaceWith(row({ ...listed.view, presence }));
  });
  // Frames sent while the connection was down are not replayed: read the page again.
  whileShown(list, 'connection', (connection) => {
    if (connection === 'connected') load();
  });
  let timer = null;
  search.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      text = search.value.trim();
      load();
    }, SEARCH_DELAY_MS);
  });
  const create = h('button', { type: 'button', class: 'btn btn-primary', 'data-action': 'new-user' }, 'New user');
  create.addEventListener('click', async () => {
    const made = await newUserDialog();
    if (!made) return;
    toast(`@${made.username} was created.`);
    location.hash = `#/admin/users/${made.id}`;
  });
  replace(main,
    pageHead('Users', 'Accounts on this server. Open one to edit it, disable it, change its role, reset its password or delete it.', create),
    h('div', { class: 'admin-toolbar' }, search, status),
    list, more.el);
  load();
  if (window.matchMedia('(min-width: 721px)').matches) search.focus();
}

/**
 * One account's page. It is read again after each action taken here, and when a frame says
 * the account changed elsewhere or the connection comes back; only the newest read is shown,
 * so the page ends up as the account was after the last change.
 */
export function renderUser(main, id, denied) {
  replace(main, h('p', { class: 'muted' }, 'Loading…'));
  let latest = 0;
  const show = async () => {
    const mine = ++latest;
    let view = null;
    let failed = null;
    try {
      view = await adminApi.user(id);
    } catch (err) {
      failed = err;
    }
    if (mine !== latest || !main.isConnected) return;
    if (failed) {
      if (!denied(failed)) replace(main, backLink(), failure(failed));
      return;
    }
    replace(main, backLink(), userPage(view, show, denied));
  };
  whileShown(main, 'directory', (changed) => {
    if (changed === id) show();
  });
  whileShown(main, 'connection', (connection) => {
    if (connection === 'connected') show();
  });
  show();
}

/** The page of account `view`, with its actions; `show` reads it again. */
function userPage(view, show, denied) {
  rememberUser(view);
  const self = state.me && view.id === state.me.id;
  const error = h('div', { class: 'admin-error-slot' });
  const act = async (work, done) => {
    replace(error);
    try {
      await work();
      if (done) toast(done);
      await show();
    } catch (err) {
      if (!denied(err)) replace(error, failure(err));
    }
  };

  const facts = h('dl', { class: 'admin-facts', 'data-admin': 'user-facts' },
    fact('Created', timeEl(view.created_at)),
    fact('Last seen', view.presence && view.presence.online ? 'online now' : presenceText(view)),
    fact('Role', view.role === 'admin' ? 'Administrator' : 'User'),
    fact('Status', view.disabled ? 'Disabled' : 'Active'),
    fact('Conversations', String(view.conversations)),
    fact('Email', view.email || '—'));

  const edit = h('button', { type: 'button', class: 'btn', 'data-action': 'edit-user' }, 'Edit');
  edit.addEventListener('click', async () => {
    const edited = await editUserDialog(view);
    if (edited) await act(async () => {}, 'Account saved.');
  });
  const actions = [];
  if (self) {
    actions.push(h('div', { class: 'admin-actions' }, edit));
    actions.push(h('p', { class: 'muted admin-self' }, 'This is your own account: another administrator has to disable, demote or delete it.'));
  } else {
    const toggle = h('button', { type: 'button', class: `btn ${view.disabled ? 'btn-primary' : 'btn-danger-quiet'}`, 'data-action': view.disabled ? 'enable' : 'disable' },
      view.disabled ? 'Enable account' : 'Disable account');
    toggle.addEventListener('click', async () => {
      if (!view.disabled) {
        const ok = await confirmDialog(`Disable @${view.username}?`,
          'They are logged out on every device at once and cannot log in until the account is enabled again.', 'Disable', true);
        if (!ok) return;
      }
      await act(() => adminApi.setDisabled(view.id, !view.disabled), view.disabled ? 'Account enabled.' : 'Account disabled.');
    });
    const role = h('button', { type: 'button', class: 'btn', 'data-action': view.role === 'admin' ? 'demote' : 'promote' },
      view.role === 'admin' ? 'Make regular user' : 'Make administrator');
    role.addEventListener('click', async () => {
      const promote = view.role !== 'admin';
      const ok = await confirmDialog(promote ? `Make @${view.username} an administrator?` : `Remove @${view.username}'s admin rights?`,
        promote ? 'They will be able to manage every account, conversation and message.' : 'They lose access to this area at once.',
        promote ? 'Make administrator' : 'Make regular user', !promote);
      if (ok) await act(() => adminApi.setRole(view.id, promote ? 'admin' : 'user'), 'Role changed.');
    });
    const reset = h('button', { type: 'button', class: 'btn', 'data-action': 'reset-password' }, 'Reset password');
    reset.addEventListener('click', async () => {
      const done = await passwordPrompt(`New password for @${view.username}`,
        'They are logged out everywhere and log in again with this password. Tell them through a safe channel.',
        (password) => adminApi.resetPassword(view.id, password));
      if (done) await act(async () => {}, 'Password reset. Their sessions have ended.');
    });
    const remove = h('button', { type: 'button', class: 'btn btn-danger', 'data-action': 'delete-user' }, 'Delete account');
    remove.addEventListener('click', async () => {
      if (!(await confirmDialog(`Delete @${view.username}?`, DELETE_TEXT, 'Delete account', true))) return;
      try {
        await adminApi.deleteUser(view.id);
        forgetNames(view.id);
        toast(`@${view.username} was deleted.`);
        location.hash = '#/admin/users';
      } catch (err) {
        if (!denied(err)) replace(error, failure(err));
      }
    });
    actions.push(h('div', { class: 'admin-actions' }, edit, toggle, role, reset, remove));
  }

  return h('section', { class: 'admin-card admin-user', 'data-admin': 'user', 'data-username': view.username, 'data-disabled': String(view.disabled), 'data-role': view.role },
    h('div', { class: 'admin-user-head' },
      avatar(view.id, displayName(view), { size: 'lg', online: Boolean(view.presence && view.presence.online) }),
      h('div', { class: 'admin-user-name' },
        h('h2', {}, displayName(view)),
        h('p', { class: 'muted' }, `@${view.username}`)),
      h('div', { class: 'cell-tags' }, tagsOf(view))),
    facts,
    error,
    actions);
}

function fact(label, value) {
  return h('div', { class: 'fact' }, h('dt', {}, label), h('dd', {}, value));
}

function backLink() {
  return h('a', { class: 'admin-back', href: '#/admin/users', 'data-action': 'back-to-users' }, '← All users');
}
