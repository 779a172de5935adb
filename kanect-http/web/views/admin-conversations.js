// Admin pages for conversations: every conversation (paged), and one conversation's messages
// (newest page first, "load older" above) where any message can be deleted. Members' open
// pages get the `delete` event and drop the message live. Bodies are inserted as text only; a
// system line (a group's change) says what changed.

import { avatar, h, icon, plural, replace, toast } from '../dom.js';
import { formatSize } from './attachments.js';
import { confirmDialog } from './dialogs.js';
import { adminApi, day, failure, loadMore, pageHead, PAGE, timeEl, userLabel } from './admin-common.js';

// Conversations seen in the list, so opening one needs no extra lookup.
const known = new Map();

/** How many list pages to scan for a conversation opened by link (bounded). */
const FIND_PAGES = 40;

/** A link to a conversation, named when the list has been read this visit. */
export function conversationLink(id) {
  const conversation = known.get(id);
  return h('a', { href: `#/admin/conversations/${id}`, class: 'admin-who', 'data-conversation': id },
    conversation ? titleOf(conversation) : 'a conversation');
}

/** The list row's title: the group's name, or "Alice & Bob" for a direct conversation. */
function titleOf(conversation) {
  if (conversation.kind === 'group') return h('span', {}, conversation.name || 'Unnamed group');
  const [a, b] = conversation.members;
  return h('span', {}, a ? userLabel(a, { link: false }) : 'deleted account', ' & ', b ? userLabel(b, { link: false }) : 'deleted account');
}

function conversationRow(conversation) {
  known.set(conversation.id, conversation);
  const group = conversation.kind === 'group';
  return h('a', { class: 'admin-row conversation-row', href: `#/admin/conversations/${conversation.id}`, 'data-conversation': conversation.id, 'data-kind': conversation.kind },
    h('span', { class: 'cell cell-who' },
      avatar(conversation.id, group ? conversation.name || 'G' : 'D', { size: 'sm', group }),
      h('span', { class: 'who-text' },
        h('span', { class: 'who-name' }, titleOf(conversation)),
        h('span', { class: 'who-sub muted' }, group ? 'Group' : 'Direct conversation'))),
    h('span', { class: 'cell cell-count muted' }, plural(conversation.members.length, 'member')),
    h('span', { class: 'cell cell-created muted' }, timeEl(conversation.created_at, day(conversation.created_at))));
}

/** The paged list of every conversation. */
export async function renderConversations(main, denied) {
  const list = h('div', { class: 'admin-table', role: 'list', 'data-admin': 'conversations' });
  const more = loadMore(async (after) => {
    const { conversations, next } = await adminApi.conversations({ after });
    list.append(...conversations.map(conversationRow));
    return next;
  });
  replace(main, pageHead('Conversations', 'Every direct conversation and group. Open one to read and moderate it.'), list, more.el);
  try {
    const { conversations, next } = await adminApi.conversations({});
    replace(list, conversations.length ? conversations.map(conversationRow) : h('p', { class: 'list-empty' }, 'No conversations yet.'));
    more.reset(next);
  } catch (err) {
    if (!denied(err)) replace(list, failure(err));
  }
}

/** Finds a conversation by id: from the list already seen, else by paging through all. */
async function findConversation(id) {
  if (known.has(id)) return known.get(id);
  let after = null;
  for (let page = 0; page < FIND_PAGES; page++) {
    const { conversations, next } = await adminApi.conversations({ after, limit: 100 });
    for (const c of conversations) known.set(c.id, c);
    if (known.has(id)) return known.get(id);
    if (!next) break;
    after = next;
  }
  return null;
}

/**
 * What a system line (PROTOCOL.md, "System lines") says, after its sender's name: nodes, the
 * group name as text, a member as a link to their account.
 */
function eventNodes(event) {
  switch (event.kind) {
    case 'created':
      return [`created the group “${event.name || ''}”`];
    case 'renamed':
      return [`renamed the group to “${event.name || ''}”`];
    case 'added':
      return ['added ', userLabel(event.user)];
    case 'removed':
      return ['removed ', userLabel(event.user)];
    case 'left':
      return ['left the group'];
    default:
      return ['changed the group'];
  }
}

/**
 * One message as the moderator sees it: sender, time, body (text), the names and sizes of its
 * files (text only: their bytes are for the conversation's members), a delete button.
 */
function messageRow(message, onDelete) {
  const row = h('li', { class: `admin-msg${message.deleted ? ' is-deleted' : ''}`, 'data-message': message.id, 'data-seq': String(message.seq) });
  const draw = () => {
    const remove = message.deleted ? null : h('button', {
      type: 'button', class: 'icon-btn small admin-msg-delete', title: 'Delete message', 'aria-label': 'Delete message', 'data-action': 'delete-message',
    }, icon('trash'));
    if (remove) remove.addEventListener('click', () => onDelete(message, row, draw));
    replace(row,
      h('div', { class: 'admin-msg-meta' },
        userLabel(message.sender),
        h('span', { class: 'muted' }, ' · ', timeEl(message.sent_at), message.edited_at ? ' · edited' : ''),
        h('span', { class: 'admin-msg-seq muted' }, `#${message.seq}`),
        remove),
      message.deleted
        ? h('p', { class: 'admin-msg-body deleted' }, 'This message was deleted')
        : message.event
          ? h('p', { class: 'admin-msg-body admin-msg-event muted', 'data-event': message.event.kind || '' }, ...eventNodes(message.event))
          : h('p', { class: 'admin-msg-body' }, message.body),
      !message.deleted && message.attachments && message.attachments.length
        ? h('p', { class: 'admin-msg-files muted', 'data-files': String(message.attachments.length) },
          `📎 ${message.attachments.map((a) => `${a.name} (${formatSize(a.size)})`).join(', ')}`)
        : null);
  };
  draw();
  return row;
}

/** One conversation's messages, newest page first, with "load older" and delete. */
export async function renderConversation(main, id, denied) {
  const back = h('a', { class: 'admin-back', href: '#/admin/conversations', 'data-action': 'back-to-conversations' }, '← All conversations');
  replace(main, back, h('p', { class: 'muted' }, 'Loading…'));
  let conversation;
  let first;
  try {
    [conversation, first] = await Promise.all([findConversation(id), adminApi.messages(id, {})]);
  } catch (err) {
    if (!denied(err)) replace(main, back, failure(err));
    return;
  }
  const error = h('div', { class: 'admin-error-slot' });
  const list = h('ol', { class: 'admin-msgs', 'data-admin': 'messages' });
  const onDelete = async (message, row, draw) => {
    const ok = await confirmDialog('Delete this message?',
      'It disappears for every member at once, on every device. The deletion is recorded in the audit log.', 'Delete', true);
    if (!ok) return;
    replace(error);
    try {
      Object.assign(message, await adminApi.deleteMessage(message.id));
      row.classList.add('is-deleted');
      draw();
      toast('Message deleted.');
    } catch (err) {
      if (!denied(err)) replace(error, failure(err));
    }
  };
  let oldest = null;
  const older = h('button', { type: 'button', class: 'btn btn-small', 'data-action': 'load-older' }, 'Load older messages');
  const olderRow = h('div', { class: 'admin-more-row', hidden: true }, older);
  const add = (messages, atTop) => {
    const sorted = [...messages].sort((a, b) => a.seq - b.seq);
    const rows = sorted.map((m) => messageRow(m, onDelete));
    if (atTop) list.prepend(...rows);
    else list.append(...rows);
    if (sorted.length) oldest = Math.min(oldest ?? Infinity, sorted[0].seq);
    olderRow.hidden = messages.length < PAGE || oldest <= 1;
  };
  older.addEventListener('click', async () => {
    older.disabled = true;
    try {
      const { messages } = await adminApi.messages(id, { before: oldest });
      add(messages, true);
    } catch (err) {
      if (!denied(err)) replace(error, failure(err));
    } finally {
      older.disabled = false;
    }
  });

  const members = conversation ? conversation.members : [];
  const title = conversation ? titleOf(conversation) : 'Conversation';
  const sub = conversation ? `${plural(members.length, 'member')} · created ${timeEl(conversation.created_at).textContent}` : id;
  replace(main, back,
    h('section', { class: 'admin-card', 'data-admin': 'conversation', 'data-conversation': id },
      pageHead(title, sub),
      members.length ? h('p', { class: 'admin-members' }, h('span', { class: 'muted' }, 'Members: '),
        members.flatMap((m, i) => (i ? [', ', userLabel(m)] : [userLabel(m)]))) : null,
      error,
      olderRow,
      list,
      first.messages.length ? null : h('p', { class: 'list-empty' }, 'No messages yet.')));
  add(first.messages, false);
}
