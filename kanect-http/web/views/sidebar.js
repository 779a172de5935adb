// The left pane: who I am, the connection state, a filter box, then my conversations (most
// recent first, with unread counts, an "@" for unread mentions of me, and typing; older ones
// are read a page at a time as the end of the list comes into view) and the people I have not
// talked to yet, each with a live presence dot.

import { avatarUrl } from '../api.js';
import { avatar, displayName, h, icon, plural, replace, toast } from '../dom.js';
import { setBadge } from '../favicon.js';
import { plainText } from '../markdown.js';
import { levelOf, onSettings } from '../notifications.js';
import * as session from '../session.js';
import { match } from '../router.js';
import { listed, on, peer, presenceOf, sortedConversations, state } from '../state.js';
import { isSystemLine, systemLineText } from '../system-lines.js';
import { lastSeen, listTime } from '../time.js';
import { conversationTitle } from '../titles.js';
import { groupDialog } from './dialogs.js';
import { inviteDialog, mayInvite } from './invites.js';
import { openPalette, SHORTCUT } from './palette.js';

/** People listed without a search; the filter box finds the others. */
const PEOPLE_SHOWN = 200;
/** Older conversations start loading this far (px) before the end of the list is in view. */
const MORE_WITHIN_PX = 300;
/** After a page of older conversations failed to load, wait this long before trying by itself. */
const MORE_RETRY_MS = 5000;

const CONNECTION_TEXT = {
  connecting: 'Connecting…',
  connected: 'Connected',
  reconnecting: 'Reconnecting…',
  closed: 'Offline',
};

/**
 * An unread count as shown, in a badge and in the tab title alike: "99+" past 99 (the server
 * counts up to 100, which means "more than 99").
 */
function unreadText(n) {
  return n > 99 ? '99+' : String(n);
}

/** A one-line preview of a message. */
function preview(conv) {
  const m = conv.last_message;
  if (!m) return conv.kind === 'group' ? plural(conv.members.length, 'member') : 'No messages yet';
  // A system line says its own words ("Alice added Carol"), with no "Alice: " before them.
  if (isSystemLine(m) && !m.deleted) return systemLineText(m, state.me.id, (id) => displayName(state.users.get(id)));
  const who = m.sender === state.me.id ? 'You: ' : conv.kind === 'group' ? `${displayName(state.users.get(m.sender))}: ` : '';
  return who + (m.deleted ? 'Message deleted' : bodyPreview(m));
}

/** A message's text on one line; for files sent without text, "📎 name" or "📎 3 files". */
function bodyPreview(m) {
  const files = m.attachments || [];
  // Formatting marks are left out: the preview is plain text.
  if (m.body.trim() || !files.length) return plainText(m.body).replace(/\s+/g, ' ');
  return files.length === 1 ? `📎 ${files[0].name}` : `📎 ${plural(files.length, 'file')}`;
}

function typingNames(conversationId) {
  const m = state.typing.get(conversationId);
  if (!m || !m.size) return null;
  return [...m.keys()].map((id) => displayName(state.users.get(id)));
}

/** 1 for a user shown online (or away), else 0: online people are listed first. */
function online(user) {
  const presence = presenceOf(user);
  return presence === 'online' || presence === 'away' ? 1 : 0;
}

/** A user's avatar: their picture if they have one, else initials; the presence dot. */
export function userAvatar(user, options = {}) {
  const presence = presenceOf(user);
  return avatar(user.id, displayName(user), {
    ...options, online: presence === 'online' || presence === 'away', away: presence === 'away', image: avatarUrl(user),
  });
}

/**
 * The sidebar header's user menu: my avatar, and my name with my status, each a link to my
 * settings; the connection state under them.
 */
function meButton(connection) {
  const me = state.me;
  return h('div', { class: 'side-me' },
    h('a', { class: 'side-me-link', href: '#/settings/profile', title: 'Settings', 'aria-label': 'Settings: your profile and account', 'data-action': 'settings' },
      avatar(me.id, displayName(me), { size: 'md', image: avatarUrl(me) })),
    h('a', { class: 'side-who', href: '#/settings/profile', tabindex: '-1', 'aria-hidden': 'true' },
      h('span', { class: 'side-name', 'data-me': me.username }, displayName(me)),
      me.status ? h('span', { class: 'side-status', 'data-my-status': '' }, me.status) : null),
    connection);
}

/**
 * A person's status line: 'online', 'last seen …', 'connecting…' while it is unknown, or
 * 'account deleted' / 'account disabled'.
 */
export function presenceText(user) {
  if (user.deleted) return 'account deleted';
  if (user.disabled) return 'account disabled';
  const presence = presenceOf(user);
  if (presence === 'online') return 'online';
  if (presence === 'away') return 'away';
  if (presence === 'unknown') return 'connecting…';
  return lastSeen((user.presence && user.presence.last_seen) || user.last_seen);
}

/** A link to the admin area, for administrators, when a view registered the `/admin` route. */
function adminLink() {
  if (!state.me || state.me.role !== 'admin' || !match('/admin')) return null;
  return h('a', { class: 'icon-btn admin-link', href: '#/admin', title: 'Administration', 'aria-label': 'Administration', 'data-action': 'admin' }, icon('shield'));
}

/** Creates the sidebar; returns `{el, destroy}`. */
export function createSidebar() {
  const connection = h('span', { class: 'conn', 'data-connection': state.connection, role: 'status' },
    h('span', { class: 'conn-dot' }), h('span', { class: 'conn-text' }, CONNECTION_TEXT[state.connection] || ''));
  const filter = h('input', { type: 'search', class: 'filter', placeholder: 'Search people and groups', 'aria-label': 'Search people and groups', spellcheck: 'false' });
  const list = h('nav', { class: 'list', 'aria-label': 'Conversations and people' });
  const newGroup = h('button', { type: 'button', class: 'icon-btn', title: 'New group', 'aria-label': 'New group', 'data-action': 'new-group' }, icon('group'));
  const logout = h('button', { type: 'button', class: 'icon-btn', title: 'Log out', 'aria-label': 'Log out', 'data-action': 'logout' }, icon('logout'));
  const searchBtn = h('button', { type: 'button', class: 'icon-btn', title: `Search (${SHORTCUT})`, 'aria-label': 'Search', 'aria-keyshortcuts': 'Control+K Meta+K', 'data-action': 'search' }, icon('search'));
  searchBtn.addEventListener('click', openPalette);
  // Shown once the server says this user may invite (administrators always may).
  const invite = h('button', { type: 'button', class: 'icon-btn', title: 'Invite people', 'aria-label': 'Invite people', 'data-action': 'invite', hidden: true }, icon('link'));
  invite.addEventListener('click', inviteDialog);
  const showInvite = () => mayInvite().then((may) => {
    invite.hidden = !may;
  });
  showInvite();
  const notify = h('a', { class: 'icon-btn', href: '#/settings/notifications', title: 'Notifications', 'aria-label': 'Notification settings', 'data-action': 'notification-settings' }, icon('bell'));
  const actions = h('div', { class: 'side-actions' }, adminLink(), invite, searchBtn, notify, newGroup, logout);
  const el = h('aside', { class: 'sidebar' },
    h('header', { class: 'side-head' },
      meButton(connection),
      actions),
    h('div', { class: 'side-search' }, icon('search', 'icon search-icon'), filter),
    list);

  newGroup.addEventListener('click', async () => {
    const id = await groupDialog();
    if (id) location.hash = `#/c/${id}`;
  });
  logout.addEventListener('click', () => session.logout());

  let searchTimer = null;
  filter.addEventListener('input', () => {
    render();
    clearTimeout(searchTimer);
    const text = filter.value.trim();
    if (text) searchTimer = setTimeout(() => session.searchUsers(text).catch(() => {}), 200);
  });
  filter.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') {
      filter.value = '';
      render();
    }
  });

  function conversationItem(conv) {
    const other = peer(conv);
    const title = conversationTitle(conv);
    const typers = typingNames(conv.id);
    const when = conv.last_message ? listTime(conv.last_message.sent_at) : '';
    // A muted conversation's unread count is shown, without emphasis.
    const muted = levelOf(conv.id) === 'muted';
    const item = h('a', {
      class: `item${state.open === conv.id ? ' active' : ''}${conv.unread && !muted ? ' has-unread' : ''}${muted ? ' item-is-muted' : ''}`,
      href: `#/c/${conv.id}`,
      'data-conversation': conv.id,
      'data-kind': conv.kind,
      'data-username': other ? other.username : null,
      'data-muted': muted ? '' : null,
      'aria-current': state.open === conv.id ? 'page' : null,
    },
    conv.kind === 'group'
      ? avatar(conv.id, title, { group: true })
      : userAvatar(other),
    h('span', { class: 'item-main' },
      h('span', { class: 'item-top' }, h('span', { class: 'item-title' }, title),
        muted ? h('span', { class: 'item-muted', title: 'Muted', 'aria-label': 'Muted' }, icon('bellOff', 'icon icon-sm')) : null,
        h('span', { class: 'item-time' }, when)),
      h('span', { class: 'item-bottom' },
        typers
          ? h('span', { class: 'item-sub typing-text' }, conv.kind === 'group' ? `${typers.join(', ')} typing…` : 'typing…')
          : h('span', { class: 'item-sub' }, preview(conv)),
        conv.unread_mentions > 0 ? h('span', { class: 'badge badge-mention', 'data-unread-mentions': String(conv.unread_mentions), 'aria-label': `${plural(conv.unread_mentions, 'unread mention')}`, title: plural(conv.unread_mentions, 'unread mention') }, '@') : null,
        conv.unread ? h('span', { class: `badge${muted ? ' badge-muted' : ''}`, 'data-unread': String(conv.unread), 'aria-label': `${conv.unread} unread` }, unreadText(conv.unread)) : null)));
    return item;
  }

  function personItem(user) {
    const presence = presenceOf(user);
    const online = presence === 'online';
    const status = user.status || presenceText(user);
    const item = h('button', { type: 'button', class: 'item', 'data-user': user.id, 'data-username': user.username },
      userAvatar(user),
      h('span', { class: 'item-main' },
        h('span', { class: 'item-top' }, h('span', { class: 'item-title' }, displayName(user))),
        h('span', { class: 'item-bottom' }, h('span', { class: `item-sub${online && !user.status ? ' online-text' : ''}`, 'data-presence': presence, 'data-status': user.status || null },
          user.display_name ? `@${user.username} · ${status}` : status))));
    item.addEventListener('click', async () => {
      item.disabled = true;
      try {
        location.hash = `#/c/${await session.openDirect(user.id)}`;
      } catch (err) {
        toast(err.message || 'Could not open the conversation.', 'error');
      } finally {
        item.disabled = false;
      }
    });
    return item;
  }

  // Older conversations: the "Older conversations" entry at the end of them reads the next page
  // when clicked, or by itself as it comes into view (then again while it stays in view, until
  // the list fills the pane or ends). A failed read waits a little before the next by itself.
  let autoMoreAfter = 0;
  let moreRetry = 0;
  const loadMore = () => {
    session.loadMoreConversations().catch((err) => {
      autoMoreAfter = Date.now() + MORE_RETRY_MS;
      clearTimeout(moreRetry);
      moreRetry = setTimeout(schedule, MORE_RETRY_MS);
      toast(err.message || 'Could not load older conversations.', 'error');
    });
  };
  const moreObserver = new IntersectionObserver((entries) => {
    if (entries.some((entry) => entry.isIntersecting) && Date.now() >= autoMoreAfter) loadMore();
  }, { root: list, rootMargin: `0px 0px ${MORE_WITHIN_PX}px 0px` });

  function moreItem() {
    const loading = state.conversationsLoading;
    const item = h('button', { type: 'button', class: 'list-more', 'data-action': 'more-conversations', disabled: loading },
      loading ? 'Loading older conversations…' : 'Older conversations');
    item.addEventListener('click', loadMore);
    return item;
  }

  function matches(text, ...values) {
    return !text || values.some((v) => v && v.toLowerCase().includes(text));
  }

  function render() {
    const text = filter.value.trim().toLowerCase();
    const convs = sortedConversations().filter((c) => {
      const other = peer(c);
      return matches(text, conversationTitle(c), other && other.username);
    });
    const talked = new Set(convs.filter((c) => c.kind === 'direct').map((c) => peer(c).id));
    for (const c of state.conversations.values()) if (c.kind === 'direct') talked.add(peer(c).id);
    const people = [...state.users.values()]
      .filter((u) => u.id !== state.me.id && listed(u) && !talked.has(u.id) && matches(text, u.username, u.display_name))
      .sort((a, b) => online(b) - online(a) || displayName(a).localeCompare(displayName(b)));
    const morePeople = people.length > PEOPLE_SHOWN;
    people.length = Math.min(people.length, PEOPLE_SHOWN);
    // Muted conversations do not count in the tab's title and icon.
    const unread = convs.reduce((sum, c) => sum + (levelOf(c.id) === 'muted' ? 0 : c.unread || 0), 0);
    document.title = unread ? `(${unreadText(unread)}) Kanect` : 'Kanect';
    setBadge(unread);
    const sections = [];
    const older = Boolean(state.conversationsNext);
    if (convs.length || older) {
      sections.push(h('h2', { class: 'list-head' }, 'Conversations'), ...convs.map(conversationItem));
    }
    if (older) sections.push(moreItem());
    if (people.length) {
      sections.push(h('h2', { class: 'list-head' }, convs.length ? 'People' : 'Start a conversation'), ...people.map(personItem));
    }
    if (morePeople) sections.push(h('p', { class: 'list-empty' }, 'Search to find more people.'));
    if (!sections.length) {
      sections.push(h('p', { class: 'list-empty' }, text ? 'Nobody matches that search.' : 'Nobody else is here yet. Invite a friend to sign up!'));
    }
    const scroll = list.scrollTop;
    replace(list, sections);
    list.scrollTop = scroll;
    moreObserver.disconnect();
    const olderItem = list.querySelector('[data-action=more-conversations]');
    if (olderItem && !olderItem.disabled) moreObserver.observe(olderItem);
  }

  function renderConnection() {
    connection.setAttribute('data-connection', state.connection);
    connection.querySelector('.conn-text').textContent = CONNECTION_TEXT[state.connection] || '';
  }

  let frame = 0;
  const schedule = () => {
    if (frame) return;
    frame = setTimeout(() => {
      frame = 0;
      render();
    }, 16);
  };
  const offs = [on('users', schedule), on('conversations', schedule), on('typing', schedule), on('open', schedule), on('connection', () => {
    renderConnection();
    schedule();
  }), on('me', () => {
    // Promoted or demoted; a new name, status or picture.
    replace(actions, adminLink(), invite, searchBtn, notify, newGroup, logout);
    showInvite();
    el.querySelector('.side-me').replaceWith(meButton(connection));
  }), onSettings(schedule)];
  const clock = setInterval(schedule, 30_000);
  render();
  return {
    el,
    destroy() {
      offs.forEach((off) => off());
      moreObserver.disconnect();
      clearTimeout(moreRetry);
      clearInterval(clock);
      document.title = 'Kanect';
      setBadge(0);
      clearTimeout(frame);
    },
  };
}
