// The client's copy of the world: who I am, the users, the conversations, the loaded history of
// each, sends waiting for their ack, who is typing. Views read it and subscribe to changes;
// only session.js mutates it, through the functions below, which keep it deduplicated (a
// message is stored once per id, whatever path it came by: REST page, live frame or resume).

const listeners = new Map();

/**
 * Subscribes to a topic ('users', 'conversations', 'thread', 'typing', 'connection', 'me';
 * 'directory': an account changed, appeared or was deleted, with its id; 'presence': a
 * presence frame as it came; 'uploads': a conversation's tray of uploads changed, with its id;
 * 'upload-progress': an upload sent more bytes, with the upload — see uploads.js).
 */
export function on(topic, fn) {
  if (!listeners.has(topic)) listeners.set(topic, new Set());
  listeners.get(topic).add(fn);
  return () => listeners.get(topic).delete(fn);
}

/** Tells a topic's subscribers that something changed. */
export function emit(topic, detail) {
  for (const fn of [...(listeners.get(topic) || [])]) {
    try {
      fn(detail);
    } catch (e) {
      console.error(e);
    }
  }
}

/** Everything the app knows. */
export const state = {
  /** The signed-in user, or null. */
  me: null,
  /** id → user view (with `presence`). */
  users: new Map(),
  /** Whether `users` holds every user (the list had no `next`). */
  usersComplete: false,
  /**
   * id → conversation view (`last_seq`, `last_message`, `unread`, `unread_mentions`,
   * `receipts`): the pages of the list read so far, and any conversation an event or a link
   * named.
   */
  conversations: new Map(),
  /** Where the next page of the conversation list starts (the server's `next`), or null. */
  conversationsNext: null,
  /** Pages of the conversation list read so far (a refresh reads as many again). */
  conversationPages: 0,
  /** Whether a further page of the conversation list is being read. */
  conversationsLoading: false,
  /** conversation id → Thread: the loaded part of its history. */
  threads: new Map(),
  /**
   * client_id → {conversation, client_id, body, attachments, reply_to, created_at, failed}: sends
   * not yet acked. `attachments` are the records of the uploads the send carries (their ids go
   * out); `reply_to` the seq of the message it answers, or null.
   */
  pending: new Map(),
  /** conversation id → Map(user id → expiry ms): who is typing. */
  typing: new Map(),
  /** The WebSocket's state (see socket.js State). */
  connection: 'closed',
  /** The conversation on screen, or null. */
  open: null,
  /**
   * What the server said of its limits: `maxFileBytes`, the largest upload, from `hello`'s
   * `max_file_bytes` (null while unknown: a server that does not say is the judge of each file);
   * `awayAfterMs`, how long without activity makes me away, from its `away_after_ms` (null
   * while unknown: activity.js then reports at its usual pace).
   */
  limits: { maxFileBytes: null, awayAfterMs: null },
};

/** Forgets everything (log-out). */
export function reset() {
  state.me = null;
  state.users.clear();
  state.usersComplete = false;
  state.conversations.clear();
  state.conversationsNext = null;
  state.conversationPages = 0;
  state.conversationsLoading = false;
  state.threads.clear();
  state.pending.clear();
  state.typing.clear();
  state.open = null;
  state.limits = { maxFileBytes: null, awayAfterMs: null };
}

/**
 * Whether two records of one message show the same: body, edit, deletion, the reply preview,
 * mentions and reactions (a history page read again brings reactions and previews that
 * changed while no frame could say so).
 */
function sameMessage(a, b) {
  return a.body === b.body && a.edited_at === b.edited_at && a.deleted === b.deleted
    && JSON.stringify([a.reply || null, a.mentions || [], a.reactions || []])
      === JSON.stringify([b.reply || null, b.mentions || [], b.reactions || []]);
}

/** A conversation's loaded history. */
class Thread {
  constructor() {
    /** id → message. */
    this.byId = new Map();
    /** Whether older messages than the oldest loaded may exist. */
    this.hasMore = true;
    /** Whether the newest page has been loaded. */
    this.loaded = false;
    /** Whether a page request is in flight. */
    this.loading = false;
  }

  /**
   * Adds or updates a message; returns whether anything changed. A `partial` message (built
   * from a send's ack, which carries no mentions or reactions) never replaces a stored one.
   */
  put(message) {
    const old = this.byId.get(message.id);
    if (old && message.partial) return false;
    if (old && old.deleted && !message.deleted) return false;
    if (old && sameMessage(old, message)) return false;
    this.byId.set(message.id, message);
    return true;
  }

  /** The loaded messages, oldest first. */
  sorted() {
    return [...this.byId.values()].sort((a, b) => a.seq - b.seq);
  }

  /** The lowest loaded seq, or null. */
  oldest() {
    let min = null;
    for (const m of this.byId.values()) if (min === null || m.seq < min) min = m.seq;
    return min;
  }
}

/** The thread of a conversation, created empty on first use. */
export function thread(conversationId) {
  let t = state.threads.get(conversationId);
  if (!t) {
    t = new Thread();
    state.threads.set(conversationId, t);
  }
  return t;
}

/** Stores a user (view), keeping a known presence if the new record has none. */
export function putUser(user) {
  if (!user || !user.id) return;
  const old = state.users.get(user.id);
  // A record leaves out a status and an avatar the user does not have: none, not "as before".
  state.users.set(user.id, {
    ...old, ...user, status: user.status ?? null, avatar: user.avatar ?? null, presence: user.presence || (old && old.presence) || null,
  });
}

/**
 * Marks an account deleted: kept (so that conversations with it name it "Deleted account"
 * rather than nobody) but out of every list.
 */
export function putDeletedUser(id) {
  state.users.set(id, { id, username: 'deleted', display_name: 'Deleted account', deleted: true, presence: null });
}

/** Whether a user belongs in people lists and the watch: neither disabled nor deleted. */
export function listed(user) {
  return Boolean(user) && !user.disabled && !user.deleted;
}

/**
 * What the app knows of `user`'s presence: 'online', 'away' (online, but inactive for a while),
 * 'offline', or 'unknown'. Presence changes
 * come over the socket, so while it is down a last known "online" may be stale and reads as
 * unknown, until the socket is back and the user list reloaded. A last known "offline" stays:
 * its last seen time is still the latest there is.
 */
export function presenceOf(user) {
  if (user && user.deleted) return 'offline';
  const online = Boolean(user && user.presence && user.presence.online);
  if (online && state.connection !== 'connected') return 'unknown';
  if (online && user.presence.away) return 'away';
  return online ? 'online' : 'offline';
}

/** Applies a `presence` frame. */
export function putPresence(frame) {
  const user = state.users.get(frame.user);
  if (!user) return false;
  user.presence = { user: frame.user, online: frame.online, away: Boolean(frame.away), last_seen: frame.last_seen ?? null };
  if (!frame.online && frame.last_seen) user.last_seen = frame.last_seen;
  return true;
}

/** Stores a conversation (or conversation view), keeping summary fields the new record lacks. */
export function putConversation(conversation) {
  const old = state.conversations.get(conversation.id) || { last_seq: 0, last_message: null, unread: 0, unread_mentions: 0, receipts: [] };
  const merged = { ...old, ...conversation };
  // Never move a cursor backwards: a stale list must not make us resume (and count) twice.
  merged.last_seq = Math.max(old.last_seq || 0, conversation.last_seq || 0);
  if (old.last_message && (!merged.last_message || merged.last_message.seq < old.last_message.seq)) {
    merged.last_message = old.last_message;
  }
  state.conversations.set(conversation.id, merged);
  return merged;
}

/**
 * Applies a message (live, resumed or from a page). Returns `{isNew}`: true when its seq is
 * beyond what we had seen in that conversation (so it counts as unread).
 */
export function putMessage(message) {
  const conv = state.conversations.get(message.conversation);
  let isNew = false;
  if (conv) {
    isNew = message.seq > (conv.last_seq || 0);
    if (isNew) conv.last_seq = message.seq;
    if (!conv.last_message || conv.last_message.seq <= message.seq) conv.last_message = message;
  }
  const t = state.threads.get(message.conversation);
  if (t && (t.loaded || t.byId.size)) t.put(message);
  if (message.client_id && state.me && message.sender === state.me.id) state.pending.delete(message.client_id);
  return { isNew };
}

/** A receipt: `{user, delivered, read}` for a member of a conversation. */
export function putReceipt(frame) {
  const conv = state.conversations.get(frame.conversation);
  if (!conv) return false;
  const receipts = (conv.receipts || []).filter((r) => r.user !== frame.user);
  receipts.push({ conversation: frame.conversation, user: frame.user, delivered: frame.delivered, read: frame.read });
  conv.receipts = receipts;
  return true;
}

/** The other party of a direct conversation (a user record), or null. */
export function peer(conversation) {
  if (!conversation || conversation.kind !== 'direct' || !state.me) return null;
  const id = conversation.members.find((m) => m !== state.me.id) || state.me.id;
  return state.users.get(id) || { id, username: '…' };
}

/** When a conversation was last active: its newest message, else its creation. */
function activity(c) {
  return (c.last_message ? c.last_message.sent_at : c.created_at) || 0;
}

/**
 * Whether conversation `a` comes before `b` in the list, as the server orders it: more recently
 * active first, then by id (descending; ids are lower-case UUIDs, so text order is byte order).
 */
export function listedBefore(a, b) {
  if (activity(a) !== activity(b)) return activity(a) > activity(b);
  return a.id > b.id;
}

/** Conversations, most recently active first. */
export function sortedConversations() {
  return [...state.conversations.values()].sort((a, b) => (listedBefore(a, b) ? -1 : listedBefore(b, a) ? 1 : 0));
}

/**
 * The status of my own message: 'pending', 'failed', 'sent', 'delivered' or 'read', from the
 * receipts of every other member. In a group it goes no further than 'delivered' (to all):
 * who has read it is the "Seen by" line's to say, not a tick that waits for everyone.
 */
export function messageStatus(conversation, message) {
  if (!message.seq) return message.failed ? 'failed' : 'pending';
  const others = (conversation.members || []).filter((m) => m !== state.me.id);
  if (!others.length) return 'sent';
  const receipts = new Map((conversation.receipts || []).map((r) => [r.user, r]));
  let all = 'read';
  for (const user of others) {
    const r = receipts.get(user);
    const read = (r && r.read) || 0;
    const delivered = Math.max((r && r.delivered) || 0, read);
    if (read >= message.seq) continue;
    if (delivered >= message.seq) all = 'delivered';
    else return 'sent';
  }
  return all === 'read' && conversation.kind === 'group' ? 'delivered' : all;
}

/**
 * The other members of a conversation whose read mark is at `seq` or beyond (user records,
 * sorted by name): who has read my message at `seq`. A receipt of someone no longer a member
 * does not count.
 */
export function readersOf(conversation, seq) {
  const members = new Set(conversation.members || []);
  const readers = [];
  for (const r of conversation.receipts || []) {
    if (!state.me || r.user === state.me.id || !members.has(r.user) || (r.read || 0) < seq) continue;
    readers.push(state.users.get(r.user) || { id: r.user, username: '…' });
  }
  const name = (u) => u.display_name || u.username || '';
  return readers.sort((a, b) => name(a).localeCompare(name(b)));
}

/** My own read mark in a conversation. */
export function myRead(conversation) {
  const r = (conversation.receipts || []).find((x) => state.me && x.user === state.me.id);
  return r ? r.read || 0 : 0;
}

/** My own delivered mark in a conversation. */
export function myDelivered(conversation) {
  const r = (conversation.receipts || []).find((x) => state.me && x.user === state.me.id);
  return r ? Math.max(r.delivered || 0, r.read || 0) : 0;
}
