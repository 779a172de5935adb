// The admin area (`#/admin…`), for administrators only: a page of its own with tabs for the
// overview (server counts, recent activity), users, conversations, invites and the audit log. Others
// get a "not allowed" page. The server checks the role on every call as well; a 403 from it
// (e.g. after a demotion) shows the same page.
//
// Routes: #/admin, #/admin/users, #/admin/users/<id>, #/admin/conversations,
// #/admin/conversations/<id>, #/admin/invites, #/admin/audit.

import { h, icon, replace } from '../dom.js';
import { state } from '../state.js';
import { conversationLink, renderConversation, renderConversations } from './admin-conversations.js';
import { adminApi, failure, loadMore, pageHead, rememberDeleted, timeEl, userLabel } from './admin-common.js';
import { renderInvites } from './admin-invites.js';
import { renderUser, renderUsers } from './admin-users.js';

/** The route pattern: `/admin`, `/admin/<section>`, `/admin/<section>/<id>`. */
export const ADMIN_ROUTE = /^\/admin(?:\/(users|conversations|invites|audit)(?:\/([0-9A-Za-z-]+))?)?$/;

const TABS = [
  { key: '', label: 'Overview' },
  { key: 'users', label: 'Users' },
  { key: 'conversations', label: 'Conversations' },
  { key: 'invites', label: 'Invites' },
  { key: 'audit', label: 'Audit log' },
];

const STATS = [
  { key: 'users', label: 'Users' },
  { key: 'online_users', label: 'Online now' },
  { key: 'conversations', label: 'Conversations' },
  { key: 'messages', label: 'Messages' },
  { key: 'connections', label: 'Open connections' },
];

const STATS_REFRESH_MS = 5000;

/** The page frame: a top bar with a way back to the chat, the tabs, and `main`. */
function frame(root, section) {
  const main = h('main', { class: 'admin-main', id: 'admin-main' });
  const tabs = h('nav', { class: 'admin-tabs', 'aria-label': 'Administration sections' },
    TABS.map((t) => h('a', {
      class: 'admin-tab',
      href: t.key ? `#/admin/${t.key}` : '#/admin',
      'data-tab': t.key || 'overview',
      'aria-current': t.key === section ? 'page' : null,
    }, t.label)));
  const el = h('div', { class: 'admin' },
    h('header', { class: 'admin-top' },
      h('a', { class: 'icon-btn', href: '#/', title: 'Back to chat', 'aria-label': 'Back to chat', 'data-action': 'back-to-chat' }, icon('back')),
      h('span', { class: 'admin-badge', 'aria-hidden': 'true' }, icon('shield')),
      h('h1', { class: 'admin-title' }, 'Administration'),
      h('span', { class: 'admin-me muted' }, state.me ? `@${state.me.username}` : '')),
    tabs,
    main);
  replace(root, el);
  return main;
}

/** The page for non-administrators (or when the server says `admin_only`). */
export function renderDenied(root) {
  replace(root, h('div', { class: 'admin admin-denied-page' },
    h('section', { class: 'admin-denied', 'data-admin': 'denied' },
      h('div', { class: 'welcome-art', 'aria-hidden': 'true' }, icon('shield', 'icon icon-xl')),
      h('h2', {}, 'Not allowed'),
      h('p', { class: 'muted' }, 'This area is for administrators. Your account does not have access to it.'),
      h('a', { class: 'btn btn-primary', href: '#/' }, 'Back to chat'))));
}

/** Renders the admin route matched by ADMIN_ROUTE into `root`. */
export function renderAdmin(root, routeMatch) {
  if (!state.me || state.me.role !== 'admin') {
    renderDenied(root);
    return;
  }
  state.open = null; // no conversation is on screen: nothing gets marked read meanwhile
  const section = routeMatch[1] || '';
  const id = routeMatch[2] || null;
  const main = frame(root, section);
  const denied = (err) => {
    if (!err || err.code !== 'admin_only') return false;
    // A late answer for a page already left must not replace what is on screen now.
    if (main.isConnected) renderDenied(root);
    return true;
  };
  const pages = {
    '': () => renderOverview(main, denied),
    users: () => (id ? renderUser(main, id, denied) : renderUsers(main, denied)),
    conversations: () => (id ? renderConversation(main, id, denied) : renderConversations(main, denied)),
    invites: () => renderInvites(main, denied),
    audit: () => renderAudit(main, denied),
  };
  pages[section]();
}

function statCards() {
  const values = new Map();
  const el = h('div', { class: 'admin-stats', 'data-admin': 'stats' }, STATS.map((s) => {
    const value = h('span', { class: 'stat-value', 'data-stat': s.key }, '…');
    values.set(s.key, value);
    return h('div', { class: `stat stat-${s.key}` }, value, h('span', { class: 'stat-label' }, s.label));
  }));
  return {
    el,
    fill(stats) {
      for (const [key, value] of values) value.textContent = Number(stats[key] || 0).toLocaleString();
    },
  };
}

async function renderOverview(main, denied) {
  const cards = statCards();
  const error = h('div', { class: 'admin-error-slot' });
  const recent = h('ol', { class: 'audit-list', 'data-admin': 'recent' });
  replace(main,
    pageHead('Overview', 'Live counts for this server, refreshed every few seconds.'),
    cards.el, error,
    h('div', { class: 'admin-head admin-subhead' }, h('h3', {}, 'Recent activity'), h('a', { href: '#/admin/audit' }, 'See the audit log')),
    recent);
  const refresh = async () => {
    try {
      cards.fill(await adminApi.stats());
      replace(error);
      return true;
    } catch (err) {
      if (!denied(err)) replace(error, failure(err));
      return false;
    }
  };
  if (!(await refresh())) return;
  const timer = setInterval(() => {
    // Stops by itself once the page is gone (another route replaced it).
    if (!main.isConnected) clearInterval(timer);
    else refresh();
  }, STATS_REFRESH_MS);
  try {
    const { entries } = await adminApi.audit({ limit: 5 });
    replace(recent, entries.length ? entries.map(auditRow) : h('li', { class: 'list-empty' }, 'No administrative actions yet.'));
  } catch (err) {
    if (!denied(err)) replace(recent, failure(err));
  }
}

/** Words for an audit action: what was done to the target. */
const ACTIONS = {
  'user.disable': 'disabled',
  'user.enable': 'enabled',
  'user.role': 'changed the role of',
  'user.password_reset': 'reset the password of',
  'user.delete': 'deleted the account',
  'message.delete': 'deleted a message in',
  'store.export': 'exported a backup of the store',
  'user.create': 'created the account',
  'user.edit': 'edited the account',
  'invite.create': 'made an invite',
  'invite.revoke': 'revoked an invite',
  'invite.use': 'signed up with an invite',
};

/** The target of an audit entry, as nodes. */
function auditTarget(entry) {
  if (entry.action === 'user.delete') {
    rememberDeleted(entry.target, entry.detail);
    return h('span', { class: 'admin-gone' }, entry.detail ? `@${entry.detail}` : 'an account');
  }
  if (entry.action === 'message.delete') {
    return entry.detail ? conversationLink(entry.detail) : h('span', {}, 'a conversation');
  }
  if (entry.action === 'store.export' || entry.action.startsWith('invite.')) return null;
  if (entry.action.startsWith('user.')) return userLabel(entry.target);
  return h('span', {}, entry.target);
}

/** One audit log line: when, who, did what, to whom. */
function auditRow(entry) {
  const verb = ACTIONS[entry.action] || entry.action;
  const target = auditTarget(entry);
  return h('li', { class: 'audit-row', 'data-action': entry.action, 'data-target': entry.target },
    h('span', { class: 'audit-when muted' }, timeEl(entry.at)),
    h('span', { class: 'audit-text' },
      userLabel(entry.actor), ' ', h('span', { class: 'audit-verb' }, verb), target ? ' ' : null, target,
      entry.action === 'user.role' && entry.detail ? h('span', { class: 'muted' }, ` → ${entry.detail}`) : null,
      entry.action === 'user.edit' && entry.detail ? h('span', { class: 'muted' }, ` (${entry.detail.replace(',', ', ')})`) : null),
    h('code', { class: 'audit-code', title: 'Action code' }, entry.action));
}

async function renderAudit(main, denied) {
  const list = h('ol', { class: 'audit-list', 'data-admin': 'audit' });
  const more = loadMore(async (before) => {
    const { entries, next } = await adminApi.audit({ before });
    list.append(...entries.map(auditRow));
    return next;
  });
  replace(main, pageHead('Audit log', 'Every administrative action, newest first.'), list, more.el);
  try {
    const { entries, next } = await adminApi.audit({});
    replace(list, entries.length ? entries.map(auditRow) : h('li', { class: 'list-empty' }, 'No administrative actions yet.'));
    more.reset(next);
  } catch (err) {
    if (!denied(err)) replace(list, failure(err));
  }
}
