// The signed-in session: log-in and log-out, loading the lists, the WebSocket and what each of
// its frames does to the state, and every action the views can take (send, edit, read...).
// Views call these functions and re-render on state events; they never talk to the server.

import { api, setCsrf } from './api.js';
import { displayName } from './dom.js';
import { clearDrafts } from './drafts.js';
import * as notifications from './notifications.js';
import { deletedPreview, previewOf } from './replies.js';
import { Socket } from './socket.js';
import * as S from './state.js';
import { isSystemLine } from './system-lines.js';
import { conversationTitle } from './titles.js';

const { state } = S;

const PAGE = 50;
/** Messages per page read to reach a reply's original (the server's largest page). */
const AROUND_PAGE = 200;
/**
 * Pages read at most to reach an original that is not loaded: the loaded history stays
 * contiguous (the view and `loadOlder` count on it), so everything between is read too; an
 * original further back than this is not jumped to (the reader is told).
 */
const AROUND_MAX_PAGES = 10;
/** Conversations per page of the list (the sidebar reads more as it scrolls). */
const CONVERSATION_PAGE = 50;
const USER_PAGES = 5;
const TYPING_SHOW_MS = 5000;
const TYPING_SEND_EVERY_MS = 3000;
/**
 * How often the user list is read again. `user`, `user_deleted` and `presence` frames keep it
 * current, and a reconnect re-reads it (resume does not replay those frames); this is the
 * backstop for what frames cannot cover: a frame lost between server nodes (the cluster bus
 * does not redeliver, and no resync follows), and the presence of listed users beyond the
 * 1000 a watch can name.
 */
const USERS_REFRESH_MS = 60_000;
/** The most users one `watch` may name (PROTOCOL.md). */
const WATCH_MAX = 1000;
/** After a send failed for a passing reason (no answer, server unavailable) on a socket that is
 * still open: wait this long, doubling up to the cap, before sending it again (same client id). */
const SEND_RETRY_MIN_MS = 1000;
const SEND_RETRY_MAX_MS = 30_000;

/**
 * Error codes after which a send is retried (same client_id) rather than shown as failed.
 * `rate_limited` too: the server says when (`retry_after_ms`), and the send waits that long.
 */
const TRANSIENT = new Set(['disconnected', 'timeout', 'closed', 'unavailable', 'shutting_down', 'network', 'rate_limited']);

let socket = null;
let usersTimer = null;
/**
 * Bumped by each full read of the conversation list: a further page read under an older one
 * continues a list that was read again since, and is dropped.
 */
let listGeneration = 0;
const lastTypingSent = new Map();
const deliveredQueue = new Map();
const fetchingUsers = new Set();
/**
 * `user` and `user_deleted` frames so far, and per user the count at their latest one. A user
 * read from the server (a list page, one view) that a frame has described since the read began
 * is older than what the frame said, and is not stored: an account disabled while the list
 * was being read must not come back.
 */
let userFrames = 0;
const userFrameAt = new Map();
/** `userFrames` when this session started: a read begun before it belongs to another session. */
let sessionFrames = 0;
/**
 * Users newly listed by `user` frames, whose presence to follow and read (`followNewcomers`),
 * gathered for a random 0.2–1 s: a burst of sign-ups costs each open page one small `watch`
 * (adding them), and the open pages spread their requests out instead of all sending them at
 * once.
 */
const newcomers = new Set();
let newcomersTimer = null;
const NEWCOMERS_WAIT_MS = [200, 1000];
/** Past this many newcomers at once, one re-read of the list replaces reading each. */
const NEWCOMERS_READ_ONE_BY_ONE = 10;

/** A client id for a send: random, so a retry of the same send is recognised by the server. */
function newClientId() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return `w-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/** Whether the user can see the conversation right now (so its messages count as read). */
function isVisible(conversationId) {
  return state.open === conversationId && document.visibilityState === 'visible';
}

// ---- lifecycle ----------------------------------------------------------------------------

/** On page load: resumes the cookie session if there is one. Returns whether signed in. */
export async function restore() {
  // No CSRF cookie means no session cookie either (they are set and cleared together).
  if (!document.cookie.split(/;\s*/).some((c) => c.startsWith('kanect_csrf='))) return false;
  try {
    const me = await api.me();
    await start(me);
    return true;
  } catch (e) {
    if (e.status === 401) return false;
    throw e;
  }
}

/** Logs in; rejects with the ApiError on failure. */
export async function login(username, password) {
  const res = await api.login(username, password);
  setCsrf(res.csrf_token);
  await start(res.user);
}

/** Creates an account and logs in; rejects with the ApiError (its `field` names the input). */
export async function signup(fields) {
  const res = await api.signup(fields);
  setCsrf(res.csrf_token);
  await start(res.user);
}

/** Logs out of this device. */
export async function logout() {
  try {
    await api.logout();
  } catch {
    // The session is forgotten locally whatever the server said.
  }
  end('local');
}

/**
 * Applies my own record as the server answered a change of it (profile, avatar): the same as
 * its `user` frame, which other devices get, does here when it arrives.
 */
export function applyMe(user) {
  if (!user || !state.me || user.id !== state.me.id) return;
  state.me = { ...state.me, ...user, status: user.status ?? null, avatar: user.avatar ?? null };
  S.putUser(user);
  S.emit('me', state.me);
  S.emit('users');
}

/** Deletes my account (given my password); the session ends here as on every other device. */
export async function deleteAccount(password) {
  await api.deleteAccount(password);
  end('account_deleted');
}

async function start(me) {
  stopSocket();
  S.reset();
  userFrameAt.clear();
  sessionFrames = ++userFrames;
  state.me = me;
  S.emit('me', me);
  await Promise.all([loadConversations(), loadUsers(), loadNotificationSettings()]);
  await restorePending();
  socket = new Socket({
    cursors: () => [...state.conversations.values()].map((c) => ({ conversation: c.id, seq: c.last_seq || 0 })),
    watch: watchList,
    onFrame,
    onHello: (frame) => {
      state.limits = { maxFileBytes: Number(frame.max_file_bytes) || null, awayAfterMs: Number(frame.away_after_ms) || null };
    },
    onState: (s) => {
      state.connection = s;
      S.emit('connection', s);
    },
    onReady,
    checkSession,
    onSessionEnded: (reason) => end(reason),
  });
  socket.start();
  clearInterval(usersTimer);
  usersTimer = setInterval(() => loadUsers().catch(() => {}), USERS_REFRESH_MS);
  document.addEventListener('visibilitychange', onVisibility);
}

function stopSocket() {
  if (socket) socket.stop();
  socket = null;
  clearInterval(usersTimer);
  clearTimeout(newcomersTimer);
  newcomersTimer = null;
  newcomers.clear();
  document.removeEventListener('visibilitychange', onVisibility);
}

/** The session is over (log-out here or elsewhere, disabled account...): back to log-in. */
function end(reason) {
  if (state.me) {
    sessionStorage.removeItem(pendingKey());
    // Drafts too, whatever ended the session: the next person at this browser logs in afresh.
    clearDrafts(state.me.id);
  }
  stopSocket();
  setCsrf(null);
  S.reset();
  S.emit('session', { ended: reason });
}

async function checkSession() {
  try {
    await api.me();
    return 'ok';
  } catch (e) {
    return e.status === 401 ? 'ended' : 'offline';
  }
}

function onVisibility() {
  if (document.visibilityState === 'visible' && state.open) markRead(state.open);
}

/** Connected and resumed: catch up on what resume does not replay, then resend pending sends. */
async function onReady() {
  for (const conversationId of new Set([...state.pending.values()].map((p) => p.conversation))) sendNext(conversationId);
  try {
    await loadConversations();
    if (state.open && state.threads.get(state.open)?.loaded) await refreshThread(state.open);
    await loadUsers();
  } catch {
    // The next reconnect or refresh tries again.
  }
}

// ---- loading ------------------------------------------------------------------------------

/**
 * Reads the conversation list again (summaries, unread counts, receipts): as many pages as
 * were read before (at least one), so that a refresh covers what the sidebar shows. A
 * conversation held that those pages should have listed and did not is gone (left or removed
 * meanwhile) and is dropped; those older than the last page read stay as they are.
 */
async function loadConversations() {
  const generation = ++listGeneration;
  const pages = Math.max(1, state.conversationPages);
  const listed = [];
  let next = null;
  let read = 0;
  do {
    const page = await api.conversations({ after: next, limit: CONVERSATION_PAGE });
    listed.push(...page.conversations);
    next = page.next;
    read += 1;
  } while (next && read < pages);
  if (generation !== listGeneration) return; // read again meanwhile: that read stands
  const seen = new Set(listed.map((c) => c.id));
  const last = listed[listed.length - 1];
  for (const c of [...state.conversations.values()]) {
    if (!seen.has(c.id) && (!next || (last && S.listedBefore(c, last)))) state.conversations.delete(c.id);
  }
  state.conversationsNext = next;
  state.conversationPages = read;
  takeConversations(listed);
  if (state.open && isVisible(state.open)) markRead(state.open);
  S.emit('conversations');
}

/** The read of the next page of the conversation list under way, if any. */
let loadingMore = null;

/**
 * Reads the next page of the conversation list, if there is one (the sidebar asks as it is
 * scrolled). One at a time: a call while one is under way waits for that one.
 */
export function loadMoreConversations() {
  if (!state.conversationsNext) return Promise.resolve();
  if (loadingMore) return loadingMore;
  const generation = listGeneration;
  state.conversationsLoading = true;
  S.emit('conversations');
  loadingMore = api.conversations({ after: state.conversationsNext, limit: CONVERSATION_PAGE })
    .then((page) => {
      if (generation !== listGeneration || !state.me) return;
      state.conversationsNext = page.next;
      state.conversationPages += 1;
      takeConversations(page.conversations);
    })
    .finally(() => {
      loadingMore = null;
      state.conversationsLoading = false;
      S.emit('conversations');
    });
  return loadingMore;
}

/** Stores conversations read from the list, reads their members, and acknowledges delivery. */
function takeConversations(conversations) {
  for (const c of conversations) S.putConversation(c);
  fetchMissingUsers(conversations.flatMap((c) => c.members));
  for (const { id } of conversations) {
    const c = state.conversations.get(id);
    const last = c.last_message;
    if (last && last.sender !== state.me.id && S.myDelivered(c) < c.last_seq) queueDelivered(c.id, c.last_seq);
  }
}

/** Reads the user list (up to a few pages; the filter box searches the server for more). */
async function loadUsers() {
  let after = null;
  let complete = false;
  const named = new Set();
  const since = userFrames;
  for (let page = 0; page < USER_PAGES; page++) {
    const res = await api.users({ after, limit: 200 });
    for (const u of res.users) {
      putUserRead(u, since);
      named.add(u.id);
    }
    if (!res.next) {
      complete = true;
      break;
    }
    after = res.next;
  }
  if (!state.me || since < sessionFrames) return; // Logged out meanwhile.
  state.usersComplete = complete;
  // The whole list names every enabled account: one we hold as enabled that it leaves out was
  // disabled or deleted, and the frame saying so was missed. Ask about each.
  if (complete) {
    for (const u of state.users.values()) if (!named.has(u.id) && S.listed(u) && u.id !== state.me.id) readUser(u.id);
  }
  sendWatch();
  S.emit('users');
}

/** Searches users on the server (for the filter box); merges them into the list. */
export async function searchUsers(text) {
  const since = userFrames;
  const res = await api.users({ search: text, limit: 50 });
  const fresh = res.users.filter((u) => !state.users.has(u.id));
  for (const u of res.users) putUserRead(u, since);
  if (fresh.length) sendWatch();
  S.emit('users');
}

/** The users whose presence to follow: every enabled one I know of but me, up to the cap. */
function watchList() {
  const ids = [];
  for (const u of state.users.values()) if (S.listed(u) && u.id !== state.me.id) ids.push(u.id);
  return ids.slice(0, WATCH_MAX);
}

/**
 * Tells the server whose presence to follow (the list replaces the last one). Resolves once
 * the server has applied it, or at once when offline: connecting sends it anyway. Never rejects.
 */
function sendWatch() {
  if (!socket || !socket.open) return Promise.resolve();
  return socket.watch(watchList()).then(() => {}, () => {});
}

/**
 * Adds users to the presence the server follows for this socket, without sending the whole
 * list again. Refused at the cap (1000 followed): they are then not followed, as any user
 * past the first 1000 of the list. Never rejects.
 */
function watchMore(ids) {
  if (!socket || !socket.open) return Promise.resolve();
  return socket.request({ type: 'watch', users: ids, add: true }).then(() => {}, () => {});
}

/**
 * Reads one user's view (presence included) into the list; marks the account deleted if it is
 * gone. Never rejects: on any other failure the list stays as it was.
 */
async function readUser(id) {
  const since = userFrames;
  try {
    putUserRead(await api.user(id), since);
  } catch (e) {
    if (e.code !== 'user_not_found' || since < sessionFrames) return;
    S.putDeletedUser(id);
  }
  S.emit('users');
  S.emit('conversations');
}

/** Stores a user read from the server when the read began at `since`, unless it is stale. */
function putUserRead(user, since) {
  if (since < sessionFrames || (userFrameAt.get(user.id) || 0) > since) return;
  S.putUser(user);
}

/** Reads the users among `ids` that the list does not hold (members of my conversations). */
function fetchMissingUsers(ids) {
  for (const id of new Set(ids)) {
    if (state.users.has(id) || fetchingUsers.has(id) || (state.me && id === state.me.id)) continue;
    fetchingUsers.add(id);
    readUser(id).finally(() => fetchingUsers.delete(id));
  }
}

/**
 * Reads the users the system lines among `messages` name that the list does not hold (an
 * administrator who deleted a member's account, a member who left long ago).
 */
function fetchLineUsers(messages) {
  const ids = [];
  for (const m of messages) if (isSystemLine(m)) ids.push(m.sender, ...(m.event.user ? [m.event.user] : []));
  if (ids.length) fetchMissingUsers(ids);
}

/** Stores a page of history in a thread. */
function putPage(t, messages) {
  for (const m of messages) t.put(m);
  fetchLineUsers(messages);
}

/**
 * Reads one conversation into the state (a search hit's, beyond the pages of the list read so
 * far); resolves with it, or null when it cannot be read. Never rejects.
 */
export async function fetchConversation(id) {
  try {
    const c = await api.conversation(id);
    S.putConversation(c);
    fetchMissingUsers(c.members);
    S.emit('conversations');
    return c;
  } catch {
    return null;
  }
}

/** Shows a conversation: loads its newest page if needed and marks it read. */
export async function openConversation(id) {
  state.open = id;
  if (!state.conversations.has(id)) {
    // Not in the list (an old link, a group I left): ask, and let the error reach the view.
    const c = await api.conversation(id);
    S.putConversation(c);
    fetchMissingUsers(c.members);
    S.emit('conversations');
  }
  const t = S.thread(id);
  if (!t.loaded && !t.loading) {
    t.loading = true;
    S.emit('thread', id);
    try {
      const { messages } = await api.messages(id, { limit: PAGE });
      putPage(t, messages);
      t.hasMore = messages.length === PAGE;
      t.loaded = true;
    } finally {
      t.loading = false;
    }
    S.emit('thread', id);
  }
  markRead(id);
}

/** Loads the page before the oldest loaded message (scrolling up). Returns how many came. */
export async function loadOlder(id) {
  const t = S.thread(id);
  if (t.loading || !t.hasMore || !t.loaded) return 0;
  const before = t.oldest();
  if (before === null || before <= 1) {
    t.hasMore = false;
    return 0;
  }
  t.loading = true;
  try {
    const { messages } = await api.messages(id, { before, limit: PAGE });
    putPage(t, messages);
    t.hasMore = messages.length === PAGE;
    S.emit('thread', id);
    return messages.length;
  } finally {
    t.loading = false;
  }
}

/** Re-reads the newest page of a loaded thread (picks up edits and deletes missed offline). */
async function refreshThread(id) {
  const t = S.thread(id);
  const { messages } = await api.messages(id, { limit: PAGE });
  let changed = false;
  for (const m of messages) changed = t.put(m) || changed;
  fetchLineUsers(messages);
  if (changed) S.emit('thread', id);
}

// ---- frames -------------------------------------------------------------------------------

async function onFrame(frame) {
  switch (frame.type) {
    case 'message':
      return onMessage(frame.message);
    case 'ack':
      return onAck(frame);
    case 'edit':
      return onEdit(frame.message);
    case 'delete':
      return onDelete(frame);
    case 'reaction':
      return onReaction(frame);
    case 'presence':
      if (S.putPresence(frame)) S.emit('users');
      S.emit('presence', frame);
      return undefined;
    case 'typing':
      return onTyping(frame);
    case 'receipt':
      return onReceipt(frame);
    case 'conversation':
      return onConversation(frame.conversation);
    case 'user':
      return onUser(frame.user);
    case 'user_deleted':
      return onUserDeleted(frame.user);
    case 'notification_settings':
      notifications.setSettings(frame.settings);
      S.emit('conversations');
      return undefined;
    default:
      return undefined;
  }
}

async function onMessage(message) {
  // A message of a conversation this device does not know yet (its first message, as a direct
  // conversation shows nobody but its opener before one): read the conversation, which then
  // holds this message already (in its unread count too), so it is not new to the thread —
  // but it is still to be marked delivered or read.
  const fetched = !state.conversations.has(message.conversation);
  if (fetched) await fetchConversation(message.conversation);
  const wasPending = state.pending.has(message.client_id);
  const { isNew } = S.putMessage(message);
  if (wasPending && !state.pending.has(message.client_id)) {
    savePending();
    sendNext(message.conversation);
  }
  const conv = state.conversations.get(message.conversation);
  // A system line is nobody's text: it names users the list may not hold (an administrator
  // who deleted a member's account), it does not end its sender's typing and is never unread
  // (as the server counts). Marking read or delivered up to one is fine.
  const line = isSystemLine(message);
  fetchLineUsers([message]);
  // Their message ends their typing, also when it came with the conversation just read.
  if (message.sender !== state.me.id && !line) clearTyping(message.conversation, message.sender);
  if ((isNew || fetched) && conv && message.sender !== state.me.id) {
    if (isVisible(message.conversation)) markRead(message.conversation);
    else {
      if (isNew && !line) {
        conv.unread = Math.min(100, (conv.unread || 0) + 1);
        const sender = displayName(state.users.get(message.sender));
        const title = conv.kind === 'group' ? `${sender} in ${conversationTitle(conv)}` : sender;
        const body = message.body || 'Sent a file';
        notifications.notifyMessage(message, state.me.id, { title, body, onOpen: () => { location.hash = `#/c/${conv.id}`; } });
      }
      if (isNew && !line && mentionsMe(message)) conv.unread_mentions = Math.min(conv.unread, (conv.unread_mentions || 0) + 1);
      queueDelivered(message.conversation, message.seq);
    }
  }
  S.emit('thread', message.conversation);
  S.emit('conversations');
}

/** This user's notification settings, as the server keeps them (a failure keeps the defaults). */
async function loadNotificationSettings() {
  try {
    notifications.setSettings(await api.notifications());
  } catch (_) {
    notifications.setSettings({});
  }
}

/** Sets a conversation's notification level ('all', 'mentions', 'muted'), muted until `until`. */
export async function setNotificationLevel(conversationId, level, until = null) {
  notifications.setSettings(await api.setLevel(conversationId, level, until));
  S.emit('conversations');
}

/** Turns the do-not-disturb on (until `until`, or until turned off) or off. */
export async function setDoNotDisturb(on, until = null) {
  notifications.setSettings(await api.setDoNotDisturb(on, until));
}

/** Whether a message mentions me. */
export function mentionsMe(message) {
  return Boolean(state.me && message.mentions && message.mentions.includes(state.me.id));
}

function onAck(frame) {
  if (!frame.client_id || !state.pending.has(frame.client_id)) return;
  const p = state.pending.get(frame.client_id);
  state.pending.delete(frame.client_id);
  savePending();
  // An ack that came after its request gave up (timeout) still frees the queue.
  sendNext(p.conversation);
  const message = {
    id: frame.id, conversation: frame.conversation, sender: state.me.id, seq: frame.seq, body: p.body,
    client_id: p.client_id, sent_at: frame.sent_at, edited_at: null, deleted: false, partial: true,
  };
  // The ack says nothing of mentions or of the reply's preview; the `message` frame does (and
  // replaces this one). Until it comes, the preview is made from the original, if loaded.
  if (p.reply_to) {
    message.reply_to = p.reply_to;
    const original = originalOf(frame.conversation, p.reply_to);
    if (original) message.reply = previewOf(original);
  }
  // The ack names no attachments; the send's are the ones stored (the server refuses a send
  // with any it cannot carry), as the `message` frame will say too.
  if (p.attachments.length) message.attachments = p.attachments;
  onMessage(message);
}

/** The loaded message of a conversation at `seq`, or null. */
export function originalOf(conversationId, seq) {
  const t = state.threads.get(conversationId);
  if (!t) return null;
  for (const m of t.byId.values()) if (m.seq === seq) return m;
  return null;
}

/**
 * Gives the loaded replies to the message at `seq` the preview `make(their preview)`: after an
 * edit of it the new first line, after its deletion "deleted" (as the server's previews say on
 * the next read).
 */
function updateReplies(conversationId, seq, make) {
  const t = state.threads.get(conversationId);
  if (!t) return;
  for (const [id, m] of t.byId) if (m.reply_to === seq && m.reply) t.byId.set(id, { ...m, reply: make(m.reply) });
}

function onEdit(message) {
  const t = state.threads.get(message.conversation);
  const conv = state.conversations.get(message.conversation);
  if (conv && conv.last_message && conv.last_message.id === message.id) conv.last_message = message;
  if (t) t.put(message);
  if (!message.deleted) updateReplies(message.conversation, message.seq, () => previewOf(message));
  S.emit('thread', message.conversation);
  S.emit('conversations');
}

function onDelete(frame) {
  const t = state.threads.get(frame.conversation);
  const old = t && t.byId.get(frame.id);
  // A deleted message carries no attachments (the server deleted their bytes), mentions or
  // reactions; replies to it say it was deleted.
  if (old) t.byId.set(frame.id, { ...old, body: '', deleted: true, attachments: undefined, mentions: undefined, reactions: undefined });
  updateReplies(frame.conversation, frame.seq, deletedPreview);
  const conv = state.conversations.get(frame.conversation);
  if (conv && conv.last_message && conv.last_message.id === frame.id) {
    conv.last_message = { ...conv.last_message, body: '', deleted: true, attachments: undefined };
  }
  S.emit('thread', frame.conversation);
  S.emit('conversations');
}

/** A reaction was added or taken back: the frame's `reactions` are the message's whole state. */
function onReaction(frame) {
  const t = state.threads.get(frame.conversation);
  const old = t && t.byId.get(frame.id);
  if (old && !old.deleted) t.byId.set(frame.id, { ...old, reactions: frame.reactions && frame.reactions.length ? frame.reactions : undefined });
  S.emit('thread', frame.conversation);
}

function onTyping(frame) {
  if (frame.user === state.me.id) return;
  let m = state.typing.get(frame.conversation);
  if (!m) state.typing.set(frame.conversation, (m = new Map()));
  const until = Date.now() + TYPING_SHOW_MS;
  m.set(frame.user, until);
  S.emit('typing', frame.conversation);
  setTimeout(() => {
    if (m.get(frame.user) === until) clearTyping(frame.conversation, frame.user);
  }, TYPING_SHOW_MS);
}

function clearTyping(conversationId, user) {
  const m = state.typing.get(conversationId);
  if (m && m.delete(user)) S.emit('typing', conversationId);
}

function onReceipt(frame) {
  if (!S.putReceipt(frame)) return;
  const conv = state.conversations.get(frame.conversation);
  if (frame.user === state.me.id && frame.read >= (conv.last_seq || 0)) {
    conv.unread = 0;
    conv.unread_mentions = 0;
  }
  S.emit('thread', frame.conversation);
  S.emit('conversations');
}

function onConversation(conversation) {
  if (!conversation.members.includes(state.me.id)) {
    state.conversations.delete(conversation.id);
    state.threads.delete(conversation.id);
    S.emit('conversations');
    S.emit('removed', conversation.id);
    return;
  }
  S.putConversation(conversation);
  fetchMissingUsers(conversation.members);
  S.emit('conversations');
  S.emit('thread', conversation.id);
}

/**
 * An account was created, or an administrator changed it. A disabled account stays in the
 * state, marked, rather than being forgotten: lists leave it out (as the server's list does)
 * while my conversations with it keep its name, as they do when it is read after a reload.
 */
function onUser(user) {
  if (!user || !user.id) return;
  userFrameAt.set(user.id, ++userFrames);
  S.emit('directory', user.id);
  if (user.id === state.me.id) {
    // Disabled: `session_ended` follows. Otherwise my role may have changed; the frame
    // carries no email, so the one I have stays.
    if (user.disabled) return;
    applyMe(user);
    return;
  }
  const known = state.users.get(user.id);
  S.putUser(user);
  S.emit('users');
  S.emit('conversations');
  if (!user.disabled && !(known && S.listed(known))) followSoon(user.id);
}

/** Queues a newly listed user for `followNewcomers`. */
function followSoon(id) {
  newcomers.add(id);
  if (newcomersTimer) return;
  const [least, most] = NEWCOMERS_WAIT_MS;
  newcomersTimer = setTimeout(followNewcomers, least + Math.random() * (most - least));
}

/**
 * Follows the newcomers' presence, then reads it, since it may have changed before the watch
 * took effect (a fresh sign-up is usually online already).
 */
async function followNewcomers() {
  newcomersTimer = null;
  const ids = [...newcomers];
  newcomers.clear();
  if (ids.length > NEWCOMERS_READ_ONE_BY_ONE) {
    await loadUsers().catch(() => {}); // sends the watch too
    return;
  }
  await watchMore(ids);
  for (const id of ids) await readUser(id);
}

/** An account was deleted. History with it stays, under "Deleted account". */
function onUserDeleted(id) {
  userFrameAt.set(id, ++userFrames);
  S.emit('directory', id);
  // Mine: `session_ended` follows.
  if (id === state.me.id || !state.users.has(id)) return;
  S.putDeletedUser(id);
  S.emit('users');
  S.emit('conversations');
}

// ---- pending sends survive a reload (this tab only) ---------------------------------------

function pendingKey() {
  return `kanect.pending.${state.me.id}`;
}

/** Saves the unacknowledged sends, so a reload resends them with the same client ids. */
function savePending() {
  if (!state.me) return;
  const list = [...state.pending.values()].map(({ conversation, client_id, body, attachments, reply_to, created_at }) => ({ conversation, client_id, body, attachments, reply_to, created_at }));
  try {
    if (list.length) sessionStorage.setItem(pendingKey(), JSON.stringify(list));
    else sessionStorage.removeItem(pendingKey());
  } catch {
    // Storage full or disabled: pending sends then only live as long as the page.
  }
}

/**
 * Takes back the sends a reload interrupted. One for a conversation beyond the pages of the list
 * read so far is read first; one for a conversation that is gone (left, removed) is dropped.
 */
async function restorePending() {
  let list = [];
  try {
    list = JSON.parse(sessionStorage.getItem(pendingKey()) || '[]');
  } catch {
    list = [];
  }
  list = (Array.isArray(list) ? list : []).filter((p) => p && typeof p.client_id === 'string' && typeof p.body === 'string');
  // Saved before sends carried attachments, or damaged: none.
  for (const p of list) if (!Array.isArray(p.attachments) || !p.attachments.every((a) => a && typeof a.id === 'string')) p.attachments = [];
  const unknown = new Set(list.map((p) => p.conversation).filter((id) => typeof id === 'string' && !state.conversations.has(id)));
  await Promise.all([...unknown].map((id) => fetchConversation(id)));
  for (const p of list) {
    if (state.conversations.has(p.conversation)) {
      state.pending.set(p.client_id, {
        conversation: p.conversation, client_id: p.client_id, body: p.body, attachments: p.attachments,
        reply_to: Number.isInteger(p.reply_to) && p.reply_to > 0 ? p.reply_to : null,
        created_at: p.created_at || Date.now(), failed: null, inFlight: false,
      });
    }
  }
}

// ---- actions ------------------------------------------------------------------------------

/**
 * Sends a message: shown at once as pending, confirmed by the ack, retried after reconnects.
 * `attachments` are the records of finished uploads (uploads.js) it carries; with them the
 * body may be empty. `replyTo`: the seq of the message it answers, or null.
 */
export function sendMessage(conversationId, body, attachments = [], replyTo = null) {
  const p = { conversation: conversationId, client_id: newClientId(), body, attachments, reply_to: replyTo || null, created_at: Date.now(), failed: null, inFlight: false };
  state.pending.set(p.client_id, p);
  savePending();
  lastTypingSent.delete(conversationId);
  S.emit('thread', conversationId);
  S.emit('conversations');
  sendNext(conversationId);
}

/**
 * Sends the conversation's oldest pending message unless it is already on its way. One send
 * per conversation at a time, the next once the last is acknowledged (or has failed for good):
 * the server numbers sends that are under way together in the order it stores them, not the
 * order they were written (PROTOCOL.md), and a burst after a reconnect must keep the order in
 * which it was typed.
 */
function sendNext(conversationId) {
  if (!socket || !socket.open) return;
  const p = [...state.pending.values()].find((q) => q.conversation === conversationId && !q.failed);
  if (!p || p.inFlight) return;
  p.inFlight = true;
  const frame = { type: 'send', conversation: p.conversation, client_id: p.client_id, body: p.body };
  if (p.attachments.length) frame.attachments = p.attachments.map((a) => a.id);
  if (p.reply_to) frame.reply_to = p.reply_to;
  socket
    .request(frame)
    .then((ack) => {
      p.inFlight = false;
      // Frees the queue: the next send goes from there (or went when the echo came first).
      onAck(ack);
    })
    .catch((err) => {
      p.inFlight = false;
      if (TRANSIENT.has(err.code)) {
        // It stays pending, first of its conversation: resent (same client_id) on reconnect,
        // or after a pause if the socket stayed open (no answer, server briefly unavailable,
        // too many sends at once: then at least as long as the server said).
        if (socket && socket.open) retryLater(p, err.retry_after_ms || 0);
        return;
      }
      p.failed = err;
      savePending();
      S.emit('thread', p.conversation);
      sendNext(conversationId);
    });
}

/**
 * Sends `p`'s conversation's head again after a pause that doubles with each try, and is at
 * least `atLeastMs`.
 */
function retryLater(p, atLeastMs = 0) {
  p.retryMs = Math.min(SEND_RETRY_MAX_MS, (p.retryMs || SEND_RETRY_MIN_MS / 2) * 2);
  setTimeout(() => sendNext(p.conversation), Math.max(p.retryMs, atLeastMs));
}

/** Tries a failed send again: it goes after the conversation's other pending sends. */
export function retrySend(clientId) {
  const p = state.pending.get(clientId);
  if (!p || !p.failed) return;
  p.failed = null;
  // To the end of the queue (a Map keeps insertion order), and shown there.
  p.created_at = Date.now();
  state.pending.delete(clientId);
  state.pending.set(clientId, p);
  savePending();
  S.emit('thread', p.conversation);
  sendNext(p.conversation);
}

/** Gives up on a failed send. */
export function discardSend(clientId) {
  const p = state.pending.get(clientId);
  if (!p) return;
  state.pending.delete(clientId);
  savePending();
  S.emit('thread', p.conversation);
}

/** Edits one of my messages. */
export async function editMessage(id, body) {
  onEdit(await api.edit(id, body));
}

/** Deletes one of my messages. */
export async function deleteMessage(id) {
  const m = await api.remove(id);
  onDelete({ conversation: m.conversation, id: m.id, seq: m.seq });
}

/**
 * Adds (`add`) or takes back my reaction `emoji` to a message: over the socket when it is open
 * (the `reaction` frame that follows, to every device, shows it), else over REST (whose answer,
 * the message, shows it at once). Rejects with the server's error (`not_emoji`,
 * `too_many_reactions`, ...).
 */
export async function react(message, emoji, add) {
  if (socket && socket.open) {
    await socket.request({ type: add ? 'react' : 'unreact', id: message.id, emoji });
    return;
  }
  const m = await (add ? api.react(message.id, emoji) : api.unreact(message.id, emoji));
  onReaction({ conversation: m.conversation, id: m.id, reactions: m.reactions || [] });
}

/**
 * Loads the history between the message at `seq` and the oldest loaded one, so that the
 * message is shown and the history stays contiguous: pages after `seq - 1` until they meet
 * what is loaded. Resolves with whether the message is now loaded (false: further back than
 * AROUND_MAX_PAGES pages, or gone).
 */
export async function loadAround(conversationId, seq) {
  const t = S.thread(conversationId);
  if (originalOf(conversationId, seq)) return true;
  if (!t.loaded) return false;
  const oldest = t.oldest();
  if (oldest !== null && (oldest - seq) / AROUND_PAGE > AROUND_MAX_PAGES) return false;
  t.loading = true;
  S.emit('thread', conversationId);
  try {
    let after = seq - 1;
    for (let page = 0; page < AROUND_MAX_PAGES; page++) {
      const { messages } = await api.messages(conversationId, { after, limit: AROUND_PAGE });
      putPage(t, messages);
      if (!messages.length) break;
      after = messages[messages.length - 1].seq;
      if (oldest === null || after >= oldest - 1) break;
    }
    if (seq <= 1) t.hasMore = false;
  } finally {
    t.loading = false;
    S.emit('thread', conversationId);
  }
  return Boolean(originalOf(conversationId, seq));
}

/** Tells the server someone is at this device (see activity.js); whether it could. */
export function reportActivity() {
  return Boolean(socket && socket.open && socket.send({ type: 'activity' }));
}

/** Tells the others I am typing (at most every few seconds). */
export function typing(conversationId) {
  const now = Date.now();
  if (now - (lastTypingSent.get(conversationId) || 0) < TYPING_SEND_EVERY_MS) return;
  lastTypingSent.set(conversationId, now);
  if (socket && socket.open) socket.send({ type: 'typing', conversation: conversationId });
}

/** Marks a conversation read up to its newest message. */
function markRead(conversationId) {
  const conv = state.conversations.get(conversationId);
  if (!conv) return;
  const hadUnread = conv.unread || conv.unread_mentions;
  conv.unread = 0;
  conv.unread_mentions = 0;
  const seq = conv.last_seq || 0;
  if (seq > 0 && S.myRead(conv) < seq) {
    S.putReceipt({ conversation: conversationId, user: state.me.id, delivered: Math.max(S.myDelivered(conv), seq), read: seq });
    if (!(socket && socket.send({ type: 'read', conversation: conversationId, seq }))) {
      api.receipt(conversationId, 'read', seq).catch(() => {});
    }
  }
  if (hadUnread) S.emit('conversations');
}

function queueDelivered(conversationId, seq) {
  const had = deliveredQueue.has(conversationId);
  deliveredQueue.set(conversationId, Math.max(seq, deliveredQueue.get(conversationId) || 0));
  if (had) return;
  setTimeout(() => {
    const s = deliveredQueue.get(conversationId);
    deliveredQueue.delete(conversationId);
    const conv = state.conversations.get(conversationId);
    if (!conv || S.myDelivered(conv) >= s) return;
    if (!(socket && socket.send({ type: 'delivered', conversation: conversationId, seq: s }))) {
      api.receipt(conversationId, 'delivered', s).catch(() => {});
    }
  }, 300);
}

/** Opens (creating on first use) the direct conversation with a user; returns its id. */
export async function openDirect(userId) {
  const c = await api.direct(userId);
  S.putConversation(c);
  S.emit('conversations');
  return c.id;
}

/** Creates a group; returns its id. */
export async function createGroup(name, members) {
  const c = await api.createGroup(name, members);
  S.putConversation(c);
  S.emit('conversations');
  return c.id;
}

/** Renames a group (owner only). */
export async function renameGroup(id, name) {
  onConversation(await api.rename(id, name));
}

/** Adds a member to a group (owner only). */
export async function addMember(id, user) {
  onConversation(await api.addMember(id, user));
}

/** Removes a member from a group (owner only). */
export async function removeMember(id, user) {
  onConversation(await api.removeMember(id, user));
}

/** Leaves a group. */
export async function leaveGroup(id) {
  await api.leave(id);
  onConversation({ ...state.conversations.get(id), members: [] });
}
