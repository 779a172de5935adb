// The right pane: one conversation. History loads as you scroll up, live messages appear at the
// bottom, my messages show pending / sent / delivered / read marks, and I can edit or delete
// them. Message bodies are inserted as text only. Files are attached with the composer's
// button, by dropping them on the pane or by pasting an image (views/attachments.js).
//
// Finding one's way: a conversation with unread messages opens on a "New messages" divider
// above the first of them, not at the bottom; scrolled up, a button jumps back down and counts
// what arrived meanwhile; the composer keeps an unsent text per conversation (drafts.js); Esc
// cancels an edit (else a reply) and ↑ in the empty composer edits my last message, as in Slack.
//
// Replies, reactions and mentions: any message can be replied to (views/replies.js) and
// reacted to (views/reactions.js); `@` in the composer lists members (views/mention-list.js);
// a message that mentions me is highlighted.
//
// A group's history shows its changes as centred notes (system lines: system-lines.js), which
// take no actions and never count as new; under my newest message that other members of a
// group have read, a "Seen by" line names them (direct conversations say it with the ticks).

import { avatarUrl } from '../api.js';
import { avatar, displayName, h, icon, plural, replace, toast } from '../dom.js';
import { bodyNodes, isJumboEmoji } from '../markdown.js';
import { getDraft, setDraft } from '../drafts.js';
import { takeJump } from '../jump.js';
import * as session from '../session.js';
import { messageStatus, myRead, on, peer, presenceOf, readersOf, state, thread } from '../state.js';
import { previewOf } from '../replies.js';
import { seenByText } from '../seen-by.js';
import { isSystemLine, systemLineText } from '../system-lines.js';
import { dayKey, dayLabel, fullTime, timeOfDay } from '../time.js';
import * as uploads from '../uploads.js';
import { acceptFiles, attachButton, attachmentsBlock, attachmentsSig, createTray } from './attachments.js';
import { errorText } from './auth.js';
import { groupInfoDialog } from './dialogs.js';
import { attachMentionList } from './mention-list.js';
import { notificationMenu } from './notification-menu.js';
import { failedActions, messageActions } from './message-actions.js';
import { closePicker, reactionChips, reactionsSig } from './reactions.js';
import { createReplyBar, jumpToMessage, quoteSig, replyQuote } from './replies.js';
import { conversationTitle } from '../titles.js';
import { presenceText, userAvatar } from './sidebar.js';

const GROUP_GAP_MS = 5 * 60_000;
const LOAD_OLDER_WITHIN_PX = 160;
const STICK_WITHIN_PX = 80;
/**
 * Opening on unread messages older than the newest page loads up to this many pages more to
 * reach the first of them; past that it opens on the oldest loaded one, the divider at the top.
 */
const OPEN_MAX_OLDER_PAGES = 4;
/** The divider opens this far below the top of the pane, so a little of what was read shows. */
const DIVIDER_MARGIN_PX = 48;
/**
 * A message body's limit, counted as the server counts it (kanect-core `validate::body`):
 * Unicode characters, not UTF-16 units or bytes. The composer has no `maxlength` (which counts
 * UTF-16 units and silently cuts a paste): it keeps the text whole and says it is too long.
 */
const BODY_MAX_CHARS = 4000;
/** The composer shows its character count from this many characters on. */
const COUNT_FROM_CHARS = 3600;

const STATUS = {
  pending: { mark: null, icon: 'clock', text: 'Sending…' },
  failed: { mark: '!', icon: 'info', text: 'Not sent' },
  sent: { mark: '✓', icon: 'check', text: 'Sent' },
  delivered: { mark: '✓✓', icon: 'checks', text: 'Delivered' },
  read: { mark: '✓✓', icon: 'checks', text: 'Read' },
};

/** What replaces the composer when the other account is gone (the server refuses sends). */
const CLOSED_TEXT = {
  deleted: 'This account was deleted. The conversation stays readable, but no one can reply to it.',
  disabled: 'This account is disabled. The conversation stays readable, but messages cannot be sent to it.',
};

/** Creates the pane for a conversation; returns `{el, destroy}`. */
export function createChat(conversationId) {
  const back = h('a', { class: 'icon-btn back', href: '#/', 'aria-label': 'Back to the list', 'data-action': 'back' }, icon('back'));
  const headAvatar = h('span', { class: 'head-avatar' });
  const title = h('h2', { class: 'chat-title' });
  const subtitle = h('p', { class: 'chat-sub', 'data-chat-status': '' });
  const info = h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Group details', title: 'Group details', 'data-action': 'group-info', hidden: true }, icon('info'));
  const level = notificationMenu(conversationId);
  const top = h('div', { class: 'history-top' });
  const items = h('div', { class: 'messages-inner' });
  const typingRow = h('div', { class: 'typing-row', 'aria-live': 'polite', 'data-typing': '' });
  const jumpCount = h('span', { class: 'jump-count', 'data-jump-count': '', hidden: true });
  const jump = h('button', { type: 'button', class: 'jump-btn', 'aria-label': 'Jump to the newest message', title: 'Jump to the newest message', 'data-action': 'jump-bottom', hidden: true },
    icon('down'), jumpCount);
  // A sticky strip of no height at the end of the pane: the button floats over the messages'
  // bottom right corner, whatever the composer's or the typing row's height.
  const jumpDock = h('div', { class: 'jump-dock' }, jump);
  const scroller = h('div', { class: 'messages', tabindex: '0', 'aria-label': 'Messages' }, top, items, typingRow, jumpDock);
  const input = h('textarea', { class: 'composer-input', rows: '1', placeholder: 'Write a message…', 'aria-label': 'Message', 'aria-describedby': `limit-${conversationId}` });
  const send = h('button', { type: 'submit', class: 'send-btn', 'aria-label': 'Send', title: 'Send (Enter)' }, icon('send'));
  const tray = createTray(conversationId);
  const attach = attachButton(conversationId);
  const limit = h('p', { class: 'composer-limit', id: `limit-${conversationId}`, 'data-composer-limit': '', 'aria-live': 'polite', hidden: true });
  const replyBar = createReplyBar(() => input.focus());
  const mentionList = attachMentionList(input, conversationId);
  const composer = h('form', { class: 'composer' }, mentionList.el, replyBar.el, limit, attach.button, attach.input, input, send);
  // Instead of the composer in a conversation with a deleted or disabled account: the server
  // refuses sends there (`recipient_unavailable`), and nobody would read them.
  const closed = h('p', { class: 'composer-closed', 'data-composer-closed': '', hidden: true });
  const banner = h('div', { class: 'net-banner', role: 'status', hidden: true });
  const el = h('section', { class: 'chat', 'data-open-conversation': conversationId },
    h('header', { class: 'chat-head' }, back, headAvatar, h('div', { class: 'chat-head-text' }, title, subtitle), level.el, info),
    banner,
    scroller,
    tray.el,
    composer,
    closed);
  acceptFiles(conversationId, el, () => !composer.hidden);

  info.addEventListener('click', () => groupInfoDialog(conversationId));

  // ---- header ----------------------------------------------------------------------------
  let headSig = '';
  // The typing row's height is animated: when it opened or closed with the reader at the
  // bottom, follow it to the end of its transition.
  let typingStick = false;
  typingRow.addEventListener('transitionend', () => {
    if (typingStick) scroller.scrollTop = scroller.scrollHeight;
  });

  /** Renders the header, the composer's open/closed state and the typing row. */
  function renderHead() {
    const conv = state.conversations.get(conversationId);
    if (!conv) return;
    const other = peer(conv);
    const name = conversationTitle(conv);
    const presence = other ? presenceOf(other) : undefined;
    const online = presence === 'online';
    const typers = [...(state.typing.get(conversationId) || new Map()).keys()].map((id) => displayName(state.users.get(id)));
    let sub;
    if (typers.length) sub = conv.kind === 'group' ? `${typers.join(', ')} ${typers.length > 1 ? 'are' : 'is'} typing…` : 'typing…';
    else if (conv.kind === 'group') {
      const names = conv.members.filter((id) => id !== state.me.id).map((id) => displayName(state.users.get(id)));
      sub = `${plural(conv.members.length, 'member')} · You${names.length ? ', ' : ''}${names.join(', ')}`;
    } else sub = other.status ? `${presenceText(other)} · ${other.status}` : presenceText(other);
    const gone = other && other.deleted ? 'deleted' : other && other.disabled ? 'disabled' : null;
    const sig = JSON.stringify([name, presence, sub, conv.kind, gone, other && other.avatar]);
    if (sig === headSig) return;
    headSig = sig;
    replace(headAvatar, conv.kind === 'group' ? avatar(conv.id, name, { group: true }) : userAvatar(other));
    title.textContent = name;
    subtitle.textContent = sub;
    subtitle.className = `chat-sub${typers.length ? ' typing-text' : online ? ' online-text' : ''}`;
    subtitle.setAttribute('data-chat-status', typers.length ? 'typing' : presence || 'group');
    info.hidden = conv.kind !== 'group';
    composer.hidden = Boolean(gone);
    tray.el.classList.toggle('tray-off', Boolean(gone));
    closed.hidden = !gone;
    closed.textContent = CLOSED_TEXT[gone] || '';
    const dots = h('span', { class: 'typing-dots', 'aria-hidden': 'true' }, h('span'), h('span'), h('span'));
    replace(typingRow, typers.length ? [dots, h('span', {}, conv.kind === 'group' ? `${typers.join(', ')} ${typers.length > 1 ? 'are' : 'is'} typing` : `${name} is typing`)] : []);
    if (typingRow.classList.contains('on') !== typers.length > 0) {
      // The row opens below the newest message: a reader at the bottom keeps seeing it.
      typingStick = atBottom();
      typingRow.classList.toggle('on', typers.length > 0);
      if (typingStick) scroller.scrollTop = scroller.scrollHeight;
    }
  }

  /** Whether the message pane is scrolled to (near) its end. */
  function atBottom() {
    return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < STICK_WITHIN_PX;
  }

  // The sidebar shows the connection too, but a phone shows only this pane.
  function renderBanner() {
    const down = state.connection === 'reconnecting';
    banner.hidden = !down;
    banner.textContent = down ? 'Connection lost. Reconnecting… Messages you send will go out when it is back.' : '';
  }

  // ---- messages --------------------------------------------------------------------------
  const nodes = new Map();

  function messageNode(key, m, conv, { first, status }) {
    const mine = m.sender === state.me.id;
    const group = conv.kind === 'group';
    const sender = state.users.get(m.sender);
    const names = mentionNames(m);
    const mentionsMe = !m.deleted && session.mentionsMe(m);
    const sig = JSON.stringify([m.body, m.deleted, m.edited_at, status, first, m.seq, group && !mine ? displayName(sender) : '', attachmentsSig(m),
      quoteSig(m), reactionsSig(m), names]);
    const old = nodes.get(key);
    if (old && old.sig === sig) return old.el;
    const files = attachmentsBlock(m);
    const body = m.deleted
      ? h('span', { class: 'msg-body deleted' }, 'This message was deleted')
      : m.body || !files ? h('span', { class: 'msg-body' }, bodyNodes(m.body, { names: new Set(names), me: state.me.username.toLowerCase() })) : null;
    const quote = m.reply && !m.deleted ? replyQuote(m, (seq) => jumpToMessage(conversationId, seq, items, render)) : null;
    const meta = h('span', { class: 'msg-meta' },
      m.edited_at && !m.deleted ? h('span', { class: 'msg-edited' }, 'edited') : null,
      h('time', { title: m.sent_at ? fullTime(m.sent_at) : '' }, m.sent_at ? timeOfDay(m.sent_at) : ''),
      mine && !m.deleted ? h('span', { class: `msg-status status-${status}`, title: STATUS[status].text, 'aria-label': STATUS[status].text },
        icon(STATUS[status].icon, 'icon icon-status'), STATUS[status].mark ? h('span', { class: 'sr-only' }, STATUS[status].mark) : null) : null);
    const jumbo = !m.deleted && !files && isJumboEmoji(m.body);
    const bubble = h('div', { class: `bubble${files ? ' has-files' : ''}${jumbo && !quote ? ' jumbo' : ''}` }, quote, files, body, meta);
    // Touch screens have no hover: a tap on a message shows its actions.
    bubble.addEventListener('click', () => row.classList.toggle('show-actions'));
    const row = h('div', {
      class: `msg ${mine ? 'mine' : 'theirs'}${first ? ' first' : ''}${m.deleted ? ' is-deleted' : ''}${mentionsMe ? ' mentions-me' : ''}`,
      'data-id': m.id || null,
      'data-seq': m.seq ? String(m.seq) : null,
      'data-client-id': m.client_id || null,
      'data-status': mine ? status : null,
    });
    if (group && !mine) {
      row.append(first ? avatar(m.sender, displayName(sender), { size: 'sm', image: avatarUrl(sender) }) : h('span', { class: 'avatar-gap' }));
    }
    const column = h('div', { class: 'msg-col' });
    if (group && !mine && first) column.append(h('div', { class: 'msg-sender' }, displayName(sender)));
    column.append(bubble);
    const chips = reactionChips(m);
    if (chips) column.append(chips);
    row.append(column);
    if (!m.deleted && m.id) row.append(messageActions(m, mine, { reply: () => replyBar.start(m), edit: () => startEdit(m) }));
    if (mine && status === 'failed') row.append(failedActions(m));
    nodes.set(key, { el: row, sig });
    return row;
  }

  /**
   * A system line (system-lines.js): a centred note, text only, without actions. Its `data-seq`
   * lets a reply's jump and the tests find it like a message.
   */
  function systemNode(key, m) {
    const text = systemLineText(m, state.me.id, (id) => displayName(state.users.get(id)));
    const sig = JSON.stringify(['line', text, m.sent_at]);
    const old = nodes.get(key);
    if (old && old.sig === sig) return old.el;
    const el = h('div', { class: 'sysline', role: 'note', 'data-id': m.id, 'data-seq': String(m.seq), 'data-event': (m.event && m.event.kind) || '' },
      h('span', { class: 'sysline-text', title: m.sent_at ? fullTime(m.sent_at) : '' }, text));
    nodes.set(key, { el, sig });
    return el;
  }

  /**
   * "Seen by …" under my newest message someone else in the group has read (seen-by.js says the
   * words): the full list in its tooltip and, on a click (phones have no hover), in the line.
   */
  const readBy = { expanded: false };
  function readByNode(readers, everyone) {
    const { short, full } = seenByText(readers.map((u) => displayName(u)), everyone);
    const button = h('button', { type: 'button', class: 'read-by', 'data-read-by': '', title: full, 'aria-label': full, 'aria-expanded': String(readBy.expanded) },
      readBy.expanded ? full : short);
    button.addEventListener('click', () => {
      readBy.expanded = !readBy.expanded;
      button.textContent = readBy.expanded ? full : short;
      button.setAttribute('aria-expanded', String(readBy.expanded));
    });
    return button;
  }

  /** The lower-case usernames a message mentions (the server's `mentions`), sorted. */
  function mentionNames(m) {
    return (m.mentions || []).map((id) => state.users.get(id)).filter((u) => u && u.username).map((u) => u.username.toLowerCase()).sort();
  }

  /** The edit in progress: `{cancel()}`, or null. */
  let editing = null;

  /**
   * Replaces my message's bubble by an edit box. `fromKeyboard` (↑ in the composer): the box
   * is scrolled into view, and the composer has the focus back when the edit ends.
   */
  function startEdit(m, { fromKeyboard = false } = {}) {
    const key = keyOf(m);
    const entry = nodes.get(key);
    if (!entry) return;
    if (editing) editing.cancel();
    // No `maxlength`, as in the composer: a longer text is kept and refused in words.
    const area = h('textarea', { class: 'edit-input', rows: '2', 'aria-label': 'Edit message' });
    area.value = m.body;
    area.addEventListener('input', () => area.removeAttribute('aria-invalid'));
    const save = h('button', { type: 'button', class: 'btn btn-primary btn-small', 'data-action': 'save-edit' }, 'Save');
    const cancel = h('button', { type: 'button', class: 'btn btn-small', 'data-action': 'cancel-edit' }, 'Cancel');
    const form = h('div', { class: 'edit-box' }, area, h('div', { class: 'row row-end' }, cancel, save));
    const bubble = entry.el.querySelector('.bubble');
    bubble.replaceWith(form);
    entry.el.classList.add('editing');
    entry.sig = 'editing';
    const finish = () => {
      if (editing && editing.key === key) editing = null;
      nodes.delete(key);
      render();
      if (fromKeyboard) input.focus();
    };
    editing = { key, cancel: finish };
    const submit = async () => {
      const body = area.value;
      if (!body.trim() || body === m.body) return finish();
      if ([...body].length > BODY_MAX_CHARS) {
        area.setAttribute('aria-invalid', 'true');
        toast(`Not saved: a message has at most ${BODY_MAX_CHARS.toLocaleString('en')} characters.`, 'error');
        return undefined;
      }
      save.disabled = true;
      try {
        await session.editMessage(m.id, body);
      } catch (err) {
        toast(errorText(err), 'error');
      }
      return finish();
    };
    save.addEventListener('click', submit);
    cancel.addEventListener('click', finish);
    area.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey) {
        event.preventDefault();
        submit();
      } else if (event.key === 'Escape') {
        event.stopPropagation();
        finish();
      }
    });
    area.focus();
    area.setSelectionRange(area.value.length, area.value.length);
    if (fromKeyboard) form.scrollIntoView({ block: 'nearest' });
  }

  /** My newest message in this conversation that I may still edit (sent, not deleted). */
  function lastEditable() {
    const mine = thread(conversationId).sorted().filter((m) => m.sender === state.me.id && !m.deleted && m.id && !isSystemLine(m));
    return mine.length ? mine[mine.length - 1] : null;
  }

  function keyOf(m) {
    return m.client_id && m.sender === state.me.id ? `c:${m.client_id}` : `m:${m.id}`;
  }

  /**
   * My newest sent message in a group that another member has read, with the members (user
   * records, by name) who read it or beyond, and whether that is every other member; or null.
   */
  function lastSeenOf(conv, stored) {
    for (let i = stored.length - 1; i >= 0; i--) {
      const m = stored[i];
      if (m.sender !== state.me.id || isSystemLine(m) || m.deleted || !m.seq) continue;
      const readers = readersOf(conv, m.seq);
      if (!readers.length) continue;
      const others = conv.members.filter((id) => id !== state.me.id).length;
      return { message: m, readers, everyone: readers.length >= others };
    }
    return null;
  }

  function render() {
    const conv = state.conversations.get(conversationId);
    if (!conv) return;
    const t = thread(conversationId);
    const stored = t.sorted();
    const pending = [...state.pending.values()]
      .filter((p) => p.conversation === conversationId)
      .sort((a, b) => a.created_at - b.created_at)
      .map((p) => {
        const original = p.reply_to ? session.originalOf(conversationId, p.reply_to) : null;
        return {
          id: null, seq: 0, sender: state.me.id, body: p.body, attachments: p.attachments, client_id: p.client_id,
          sent_at: null, failed: Boolean(p.failed), failedError: p.failed, reply_to: p.reply_to, reply: original ? previewOf(original) : undefined,
        };
      });
    const all = [...stored, ...pending];
    // The message a reply is being written to was deleted: the server would refuse the reply.
    if (replyBar.target() && t.byId.get(replyBar.target())?.deleted) replyBar.cancel();
    const place = findDivider(t, stored);

    // Keep the view where the reader left it: pinned to the bottom, or on the same message.
    const stuck = atBottom();
    let anchor = null;
    let anchorTop = 0;
    if (!stuck) {
      const view = scroller.getBoundingClientRect();
      for (const row of items.querySelectorAll('.msg')) {
        const box = row.getBoundingClientRect();
        if (box.bottom > view.top && row.dataset.id) {
          // By id, not element: a row is rebuilt when its neighbours change (grouping).
          anchor = row.dataset.id;
          anchorTop = box.top - view.top;
          break;
        }
      }
    }

    // In a group, who has read my newest message that anyone has read (state.readersOf).
    const seen = conv.kind === 'group' ? lastSeenOf(conv, stored) : null;

    const wanted = [];
    const keep = new Set();
    let prev = null;
    for (const m of all) {
      // A line an administrator deleted shows nothing.
      if (isSystemLine(m) && m.deleted) continue;
      const at = m.sent_at || Date.now();
      if (!prev || dayKey(prev.sent_at || Date.now()) !== dayKey(at)) {
        const key = `d:${dayKey(at)}`;
        let entry = nodes.get(key);
        if (!entry) {
          entry = { el: h('div', { class: 'day', role: 'separator' }, h('span', {}, dayLabel(at))), sig: '' };
          nodes.set(key, entry);
        }
        wanted.push(entry.el);
        keep.add(key);
      }
      const divided = divider.seq !== null && m.seq === divider.seq;
      if (divided) wanted.push(divider.el);
      if (isSystemLine(m)) {
        const key = `m:${m.id}`;
        wanted.push(systemNode(key, m));
        keep.add(key);
        prev = m;
        continue;
      }
      // A line between two messages of one sender starts a new group of bubbles.
      const first = !prev || isSystemLine(prev) || prev.sender !== m.sender || at - (prev.sent_at || Date.now()) > GROUP_GAP_MS
        || dayKey(prev.sent_at || Date.now()) !== dayKey(at) || divided;
      const status = m.sender === state.me.id ? (m.seq ? messageStatus(conv, m) : m.failed ? 'failed' : 'pending') : null;
      const key = keyOf(m);
      const existing = nodes.get(key);
      wanted.push(existing && existing.sig === 'editing' ? existing.el : messageNode(key, m, conv, { first, status }));
      keep.add(key);
      if (seen && seen.message === m) {
        const sig = JSON.stringify(['seen', m.id, seen.readers.map((u) => [u.id, displayName(u)]), seen.everyone]);
        let entry = nodes.get('seen');
        if (!entry || entry.sig !== sig) {
          entry = { el: h('div', { class: 'read-by-row', 'data-read-by-seq': String(m.seq) }, readByNode(seen.readers, seen.everyone)), sig };
          nodes.set('seen', entry);
        }
        wanted.push(entry.el);
        keep.add('seen');
      }
      prev = m;
    }
    for (const key of [...nodes.keys()]) if (!keep.has(key)) nodes.delete(key);
    wanted.forEach((node, i) => {
      if (items.children[i] !== node) items.insertBefore(node, items.children[i] || null);
    });
    while (items.children.length > wanted.length) items.lastChild.remove();

    if (!t.loaded) replace(top, h('div', { class: 'loader' }, 'Loading messages…'));
    else if (t.loading) replace(top, h('div', { class: 'loader' }, 'Loading earlier messages…'));
    else if (!t.hasMore) {
      replace(top, h('div', { class: 'history-start' },
        conv.kind === 'group' ? `This is the beginning of ${conv.name || 'the group'}.` : `This is the beginning of your conversation with ${conversationTitle(conv)}.`));
    } else replace(top);

    if (place && divider.seq !== null) {
      // Opening on unread messages: the divider near the top (the pane cannot scroll past its
      // end: a short unread stretch opens at the bottom, the divider in view).
      const offset = divider.el.getBoundingClientRect().top - scroller.getBoundingClientRect().top;
      scroller.scrollTop += offset - Math.min(DIVIDER_MARGIN_PX, scroller.clientHeight / 4);
      stickNext = false;
    } else if (stuck || stickNext) {
      scroller.scrollTop = scroller.scrollHeight;
      // The first render of a thread loaded before runs while the pane is not yet in the
      // page, where nothing scrolls: the next render (in the page) sticks to the bottom.
      if (scroller.isConnected) stickNext = false;
    } else if (anchor) {
      const row = items.querySelector(`.msg[data-id="${CSS.escape(anchor)}"]`);
      if (row) scroller.scrollTop += row.getBoundingClientRect().top - scroller.getBoundingClientRect().top - anchorTop;
    }
    countArrivals(stored, stuck || place);
    updateJump();
    maybeLoadOlder();
  }

  // ---- the "New messages" divider ---------------------------------------------------------
  // Where my read mark stood when the conversation opened, if it had unread messages: opening
  // marks everything read (session.openConversation), so it is taken now, before that. The
  // divider then stays above the same message while the view lives; the next opening, with
  // nothing unread, has none.
  const opened = state.conversations.get(conversationId);
  const divider = {
    /** My read mark at opening, or null: nothing was unread. */
    readMark: opened && opened.unread > 0 ? myRead(opened) : null,
    /** The seq of the message the divider sits above, once found, or null. */
    seq: null,
    /** Whether the view is still to be placed on the divider. */
    pending: Boolean(opened && opened.unread > 0),
    /** Older pages read to reach the first unread message. */
    pagesRead: 0,
    el: h('div', { class: 'new-divider', role: 'separator', 'data-new-divider': '' }, h('span', {}, 'New messages')),
  };

  /**
   * Once the newest page is in: finds the first unread message from someone else, reading older
   * pages (at most OPEN_MAX_OLDER_PAGES) while it may be older than the oldest loaded. Returns
   * whether the view is to be placed on the divider now.
   */
  function findDivider(t, stored) {
    // Placed only in the page (a thread loaded before renders once before the pane is shown).
    if (!divider.pending || !t.loaded || t.loading || !scroller.isConnected) return false;
    // As in Slack and Element, what came before my own newest message counts as read: I wrote
    // after it (even if the read mark, which sending does not move, stayed behind).
    let mark = divider.readMark;
    for (const m of stored) if (m.sender === state.me.id && !isSystemLine(m) && m.seq > mark) mark = m.seq;
    const oldest = t.oldest();
    if (oldest !== null && oldest > mark + 1 && t.hasMore && divider.pagesRead < OPEN_MAX_OLDER_PAGES) {
      divider.pagesRead += 1;
      session.loadOlder(conversationId).catch((err) => toast(errorText(err), 'error')).finally(schedule);
      return false;
    }
    divider.pending = false;
    const first = stored.find((m) => m.seq > mark && m.sender !== state.me.id && !isSystemLine(m));
    divider.seq = first ? first.seq : null;
    return divider.seq !== null;
  }

  // ---- jump to the newest message ---------------------------------------------------------
  /** The newest seq rendered so far (0 before the first page), and messages from others that
   * arrived below the view since the reader was last at the bottom. */
  const arrivals = { newest: 0, unseen: 0 };

  /** Counts the messages from others newer than the last render when the reader is scrolled up. */
  function countArrivals(stored, seen) {
    const newest = stored.length ? stored[stored.length - 1].seq : 0;
    if (arrivals.newest && !seen) {
      arrivals.unseen += stored.filter((m) => m.seq > arrivals.newest && m.sender !== state.me.id && !isSystemLine(m)).length;
    }
    arrivals.newest = Math.max(arrivals.newest, newest);
  }

  /**
   * Shows the jump button more than a screen from the bottom, or with a count anywhere above
   * it; at the bottom the count is cleared and the button hidden.
   */
  function updateJump() {
    const fromBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight;
    if (atBottom()) arrivals.unseen = 0;
    jump.hidden = !(fromBottom > scroller.clientHeight || (arrivals.unseen > 0 && !atBottom()));
    jumpCount.hidden = arrivals.unseen === 0;
    jumpCount.textContent = arrivals.unseen > 99 ? '99+' : String(arrivals.unseen);
    jump.setAttribute('aria-label', arrivals.unseen ? `Jump to the newest message (${plural(arrivals.unseen, 'new message')})` : 'Jump to the newest message');
  }
  jump.addEventListener('click', () => {
    scroller.scrollTop = scroller.scrollHeight;
    arrivals.unseen = 0;
    updateJump();
  });

  let stickNext = true;
  async function maybeLoadOlder() {
    const t = thread(conversationId);
    if (!t.loaded || t.loading || !t.hasMore) return;
    if (scroller.scrollTop > LOAD_OLDER_WITHIN_PX && scroller.scrollHeight > scroller.clientHeight + LOAD_OLDER_WITHIN_PX) return;
    try {
      const promise = session.loadOlder(conversationId);
      render();
      await promise;
    } catch (err) {
      toast(errorText(err), 'error');
    }
    render();
  }
  scroller.addEventListener('scroll', () => {
    updateJump();
    maybeLoadOlder();
  }, { passive: true });

  // ---- composer --------------------------------------------------------------------------
  const grow = () => {
    input.style.height = 'auto';
    input.style.height = `${Math.min(input.scrollHeight, 160)}px`;
  };
  /** Characters in the composer past the limit (0 when it may be sent). */
  const overBy = () => Math.max(0, [...input.value].length - BODY_MAX_CHARS);
  // Send takes text, or finished uploads, or both; never a text over the limit. Near the limit
  // the composer counts, past it the count turns into an error that says what to do.
  const updateSend = () => {
    const chars = [...input.value].length;
    const over = overBy();
    limit.hidden = chars < COUNT_FROM_CHARS;
    limit.classList.toggle('over', over > 0);
    limit.textContent = `${chars.toLocaleString('en')} / ${BODY_MAX_CHARS.toLocaleString('en')}${over ? ` · ${plural(over, 'character')} too many: shorten the message to send it.` : ''}`;
    if (over) input.setAttribute('aria-invalid', 'true');
    else input.removeAttribute('aria-invalid');
    send.disabled = over > 0 || (!input.value.trim() && uploads.ready(conversationId).length === 0);
  };
  input.addEventListener('input', () => {
    grow();
    updateSend();
    setDraft(state.me.id, conversationId, input.value);
    if (input.value.trim()) session.typing(conversationId);
  });
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      composer.requestSubmit();
    } else if (event.key === 'ArrowUp' && !input.value && !event.shiftKey && !event.altKey && !event.ctrlKey && !event.metaKey && !event.isComposing) {
      // As in Slack: ↑ in an empty composer edits my last message.
      const m = lastEditable();
      if (!m) return;
      event.preventDefault();
      startEdit(m, { fromKeyboard: true });
    }
  });
  // Esc anywhere in the pane (the edit box, the mention list and the reaction picker handle
  // their own) cancels an edit in progress, else the reply being written.
  el.addEventListener('keydown', (event) => {
    if (event.key !== 'Escape' || event.defaultPrevented) return;
    if (editing) editing.cancel();
    else if (replyBar.cancel()) event.preventDefault();
  });
  composer.addEventListener('submit', (event) => {
    event.preventDefault();
    const body = input.value;
    const hasFiles = uploads.ready(conversationId).length > 0;
    if (!body.trim() && !hasFiles) return;
    if (overBy()) {
      toast(`Not sent: a message has at most ${BODY_MAX_CHARS.toLocaleString('en')} characters.`, 'error');
      return;
    }
    input.value = '';
    setDraft(state.me.id, conversationId, '');
    grow();
    stickNext = true;
    // Files under way stay in the tray, for the next message.
    session.sendMessage(conversationId, body.trim() ? body : '', uploads.take(conversationId), replyBar.seq());
    replyBar.cancel();
    mentionList.close();
    updateSend();
    input.focus();
  });

  // ---- wiring ----------------------------------------------------------------------------
  let timer = 0;
  const schedule = () => {
    if (timer) return;
    timer = setTimeout(() => {
      timer = 0;
      renderHead();
      render();
    }, 0);
  };
  // A message to show (a search hit, jump.js): once the newest page is in, scrolled to and
  // flashed as a reply's original is; the view then stays there, not on the unread divider.
  const showPending = () => {
    if (!thread(conversationId).loaded) return;
    const seq = takeJump(conversationId);
    if (seq === null) return;
    divider.pending = false;
    jumpToMessage(conversationId, seq, items, render, 'That message is too far back to show here.');
  };
  const offs = [
    on('jump', (id) => id === conversationId && showPending()),
    on('thread', (id) => id === conversationId && schedule()),
    on('conversations', schedule),
    on('users', schedule),
    on('typing', (id) => id === conversationId && renderHead()),
    on('uploads', (id) => id === conversationId && updateSend()),
    on('connection', () => {
      renderBanner();
      renderHead();
    }),
  ];
  renderBanner();
  // The text left unsent here last time (another conversation, or before a reload).
  input.value = getDraft(state.me.id, conversationId);
  // Its height can be measured once the pane is in the page.
  if (input.value) requestAnimationFrame(grow);
  updateSend();
  const clock = setInterval(() => {
    headSig = '';
    renderHead();
  }, 30_000);
  renderHead();
  render();
  session.openConversation(conversationId).then(() => {
    schedule();
    showPending();
  }).catch((err) => {
    toast(err.code === 'conversation_not_found' ? 'That conversation is not available.' : errorText(err), 'error');
    if (state.open === conversationId) location.hash = '#/';
  });
  return {
    el,
    focus: () => input.focus(),
    destroy() {
      offs.forEach((off) => off());
      level.destroy();
      closePicker();
      tray.destroy();
      clearTimeout(timer);
      clearInterval(clock);
    },
  };
}
