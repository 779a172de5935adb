// The command palette (Ctrl+K, or Cmd+K on a Mac, from anywhere once signed in; the sidebar's
// Search button): one input, and as it is typed three sections of results — People (the app's
// user list, plus what the server's user search adds), Groups (by name) and Messages (the
// server's message search, newest first, a page at a time: search.js). ↑/↓ move through all of
// them, Enter opens: a person's direct conversation, a group, or a message's conversation
// scrolled to it (jump.js). "In this conversation" narrows messages to the open one. A native
// <dialog>: Esc closes it, and the focus goes back where it was. Every name and snippet is a
// text node; a snippet's matched words are <mark> elements built here, never parsed HTML.

import { avatar, displayName, h, icon, plural, replace, toast } from '../dom.js';
import { showMessage } from '../jump.js';
import { createMessageSearch } from '../search.js';
import * as session from '../session.js';
import { listed, on, peer, presenceOf, sortedConversations, state } from '../state.js';
import { dayLabel, fullTime, timeOfDay } from '../time.js';
import { conversationTitle } from '../titles.js';
import { errorText } from './auth.js';

/** People and groups listed at most (the messages have their pages). */
const SHOWN = 5;
/** Pause after typing before the server's user search is asked (as the sidebar's filter). */
const USER_SEARCH_MS = 200;

/** What the Messages section says instead of hits, by error code. */
const SEARCH_ERRORS = {
  empty: 'Type a word to search messages: punctuation alone finds nothing.',
  too_long: 'That search is too long (256 characters at most).',
  search_disabled: 'Message search is not available on this server',
  conversation_not_found: 'You are no longer in this conversation.',
};

/** The shortcut as this platform's keyboard names it, for tooltips. */
export const SHORTCUT = /Mac|iPhone|iPad/.test(navigator.platform || '') ? '⌘K' : 'Ctrl+K';

/** The palette while it is open: `{dialog, input}`, or null. */
const current = { palette: null };

/**
 * Listens for Ctrl+K / Cmd+K on the whole page (once, at start-up). The browser's own use of
 * the shortcut (its search bar) is prevented while someone is signed in.
 */
export function installPaletteShortcut() {
  document.addEventListener('keydown', (event) => {
    if (!(event.ctrlKey || event.metaKey) || event.altKey || event.shiftKey) return;
    if (event.key !== 'k' && event.key !== 'K' && event.code !== 'KeyK') return;
    if (!state.me) return;
    event.preventDefault();
    openPalette();
  });
}

/** A hit's date and time, short: "14:03", "Yesterday 14:03", "3 Mar 14:03". */
function hitTime(ms) {
  const day = dayLabel(ms);
  return day === 'Today' ? timeOfDay(ms) : `${day} ${timeOfDay(ms)}`;
}

/** Whether `text` (lower case) is in any of `values`; 2 when one starts with it (ranked first). */
function matchRank(text, ...values) {
  let rank = 0;
  for (const v of values) {
    const lower = (v || '').toLowerCase();
    if (lower.startsWith(text)) return 2;
    if (lower.includes(text)) rank = 1;
  }
  return rank;
}

/** A snippet's segments as text, the matched ones in <mark>. */
function snippetNodes(snippet) {
  return (snippet || []).map((seg) => (seg.hit ? h('mark', {}, seg.text) : document.createTextNode(seg.text)));
}

/** Opens the palette (or, when it is open, selects its text). */
export function openPalette() {
  // A palette closed a moment ago (its close event still to come) counts as closed.
  if (current.palette && current.palette.dialog.open) {
    current.palette.input.focus();
    current.palette.input.select();
    return;
  }
  // Not over another dialog (a group being created, the image viewer): one modal at a time.
  if (document.querySelector('dialog[open]')) return;
  if (current.palette) current.palette.dialog.remove();
  const returnTo = document.activeElement;
  const openId = state.open && state.conversations.get(state.open) ? state.open : null;

  const input = h('input', {
    type: 'text', class: 'palette-input', role: 'combobox', placeholder: 'Search people, groups and messages',
    'aria-label': 'Search people, groups and messages', 'aria-expanded': 'true', 'aria-autocomplete': 'list',
    'aria-controls': 'palette-results', autocomplete: 'off', spellcheck: 'false', 'data-palette-input': '',
  });
  input.setAttribute('enterkeyhint', 'search');
  const closeBtn = h('button', { type: 'button', class: 'icon-btn palette-close', 'aria-label': 'Close', title: 'Close (Esc)' }, icon('close'));
  const scope = openId
    ? h('button', { type: 'button', class: 'chip palette-scope', 'aria-pressed': 'false', 'data-action': 'scope', title: `Only messages in ${conversationTitle(state.conversations.get(openId))}` },
      'In this conversation')
    : null;
  const results = h('div', { class: 'palette-results', id: 'palette-results', role: 'listbox', 'aria-label': 'Results' });
  const dialog = h('dialog', { class: 'dialog palette', 'aria-label': 'Search', 'data-dialog': 'search' },
    h('div', { class: 'palette-head' }, icon('search', 'icon palette-icon'), input, closeBtn),
    scope ? h('div', { class: 'palette-scopes' }, scope) : null,
    results,
    h('footer', { class: 'palette-foot', 'aria-hidden': 'true' },
      h('span', {}, h('kbd', {}, '↑'), h('kbd', {}, '↓'), ' to move'),
      h('span', {}, h('kbd', {}, 'Enter'), ' to open'),
      h('span', {}, h('kbd', {}, 'Esc'), ' to close')));

  /** What the palette shows: the options in order, and the active one's key. */
  const view = {
    /** The options shown, in order: `{key, el, run}`. */
    options: [],
    /** The key of the active option (Enter opens it), or null. */
    active: null,
    /** Whether messages are searched in the open conversation only. */
    scoped: false,
    /** Whether a result was opened (the focus then stays with it). */
    opened: false,
    /** Conversations of hits that were read because the state did not hold them. */
    asked: new Set(),
    /** Hits shown before "More results" was asked for: the first new one becomes active. */
    moreFrom: null,
  };
  const search = createMessageSearch(() => schedule());
  let userTimer = 0;

  // ---- results -------------------------------------------------------------------------
  function people(text) {
    return [...state.users.values()]
      .filter((u) => u.id !== state.me.id && listed(u))
      .map((u) => ({ u, rank: matchRank(text, u.username, u.display_name, ...(u.display_name || '').split(/\s+/)) }))
      .filter((x) => x.rank > 0)
      .sort((a, b) => b.rank - a.rank || (presenceOf(b.u) === 'online') - (presenceOf(a.u) === 'online') || displayName(a.u).localeCompare(displayName(b.u)))
      .slice(0, SHOWN)
      .map((x) => x.u);
  }

  function groups(text) {
    return sortedConversations()
      .filter((c) => c.kind === 'group' && matchRank(text, c.name, ...(c.name || '').split(/\s+/)) > 0)
      .slice(0, SHOWN);
  }

  /** One option: `key` identifies it across renders, `run()` opens it. */
  function option(key, kind, run, attrs, ...children) {
    const el = h('div', { class: `palette-option palette-${kind}`, role: 'option', id: `palette-opt-${view.options.length}`, 'data-kind': kind, ...attrs }, ...children);
    // mousedown, not click: the input keeps the focus.
    el.addEventListener('mousedown', (event) => event.preventDefault());
    el.addEventListener('click', () => {
      view.active = key;
      run();
    });
    view.options.push({ key, el, run });
    return el;
  }

  function personOption(u) {
    const online = presenceOf(u) === 'online';
    return option(`u:${u.id}`, 'person', () => openPerson(u), { 'data-username': u.username },
      avatar(u.id, displayName(u), { size: 'sm', online }),
      h('span', { class: 'palette-main' },
        h('span', { class: 'palette-title' }, displayName(u)),
        h('span', { class: 'palette-sub' }, `@${u.username}`)));
  }

  function groupOption(c) {
    return option(`c:${c.id}`, 'group', () => openConversation(c.id), { 'data-conversation': c.id },
      avatar(c.id, conversationTitle(c), { size: 'sm', group: true }),
      h('span', { class: 'palette-main' },
        h('span', { class: 'palette-title' }, conversationTitle(c)),
        h('span', { class: 'palette-sub' }, plural(c.members.length, 'member'))));
  }

  function hitOption(hit) {
    const conv = state.conversations.get(hit.conversation);
    if (!conv && !view.asked.has(hit.conversation)) {
      view.asked.add(hit.conversation);
      session.fetchConversation(hit.conversation).then(schedule);
    }
    const where = conv ? conversationTitle(conv) : 'Conversation';
    const who = hit.sender === state.me.id ? 'You' : displayName(state.users.get(hit.sender));
    // In a direct conversation the other's name is the conversation's: said once.
    const whoShown = conv && conv.kind === 'direct' && who === where ? null : who;
    return option(`m:${hit.id}`, 'message', () => openHit(hit), { 'data-conversation': hit.conversation, 'data-seq': String(hit.seq), 'data-message': hit.id },
      hitAvatar(conv, hit, where),
      h('span', { class: 'palette-main' },
        h('span', { class: 'palette-hit-top' },
          h('span', { class: 'palette-title palette-where' }, where),
          h('span', { class: 'palette-who' }, whoShown),
          h('time', { class: 'palette-time', title: fullTime(hit.sent_at) }, hitTime(hit.sent_at))),
        h('span', { class: 'palette-snippet' }, snippetNodes(hit.snippet))));
  }

  /** A hit's avatar: its group's, or the other person's in a direct conversation (as listed). */
  function hitAvatar(conv, hit, where) {
    if (conv && conv.kind === 'group') return avatar(conv.id, where, { size: 'sm', group: true });
    const other = conv && peer(conv);
    return avatar(other ? other.id : hit.conversation, where, { size: 'sm' });
  }

  function section(name, label, ...children) {
    return h('div', { class: 'palette-section', role: 'group', 'aria-labelledby': `palette-head-${name}`, 'data-section': name },
      h('div', { class: 'palette-head-label', id: `palette-head-${name}`, role: 'presentation' }, label),
      ...children);
  }

  function messagesSection() {
    const s = search.state;
    const parts = s.hits.map(hitOption);
    let note = null;
    if (s.status === 'loading') note = 'Searching…';
    else if (s.status === 'error') note = SEARCH_ERRORS[s.error.code] || `Could not search messages: ${errorText(s.error)}`;
    else if (s.status === 'done' && !s.hits.length) note = 'No messages found';
    if (note) parts.push(h('p', { class: `palette-note${s.status === 'error' ? ' palette-error' : ''}`, role: 'status', 'data-search-status': s.status === 'error' ? s.error.code : s.status }, note));
    if (s.status === 'done' && s.error) parts.push(h('p', { class: 'palette-note palette-error', role: 'status' }, `Could not load more: ${errorText(s.error)}`));
    if (s.status === 'done' && s.next) {
      parts.push(option('more', 'more', () => {
        view.moreFrom = s.hits.length;
        search.more();
      }, { 'data-action': 'more-results', 'aria-disabled': s.loadingMore ? 'true' : null },
        s.loadingMore ? 'Loading more…' : 'More results'));
    }
    return section('messages', view.scoped ? 'Messages in this conversation' : 'Messages', parts);
  }

  function render() {
    const text = input.value.trim().toLowerCase();
    const scroll = results.scrollTop;
    view.options = [];
    const parts = [];
    if (text) {
      const ps = people(text);
      const gs = groups(text);
      if (ps.length) parts.push(section('people', 'People', ps.map(personOption)));
      if (gs.length) parts.push(section('groups', 'Groups', gs.map(groupOption)));
      parts.push(messagesSection());
    } else {
      parts.push(h('div', { class: 'palette-note palette-hint' },
        h('p', {}, 'Find people, groups and messages.'),
        h('p', { class: 'palette-tip' }, '"in quotes" finds a phrase, -word leaves a word out')));
    }
    replace(results, parts);
    results.scrollTop = scroll;
    const hits = search.state.hits;
    let reveal = false;
    if (view.moreFrom !== null && !search.state.loadingMore) {
      if (hits.length > view.moreFrom) view.active = `m:${hits[view.moreFrom].id}`;
      view.moreFrom = null;
      reveal = true;
    }
    if (!view.options.some((o) => o.key === view.active)) {
      view.active = view.options.length ? view.options[0].key : null;
      results.scrollTop = 0;
    }
    mark(reveal);
  }

  /**
   * Marks the active option (aria-selected, the input's aria-activedescendant); `reveal`
   * scrolls it into view (a move by keyboard, not a re-render while the list is scrolled).
   */
  function mark(reveal = false) {
    let activeEl = null;
    for (const o of view.options) {
      const on = o.key === view.active;
      o.el.setAttribute('aria-selected', on ? 'true' : 'false');
      o.el.classList.toggle('active', on);
      if (on) activeEl = o.el;
    }
    if (activeEl) {
      input.setAttribute('aria-activedescendant', activeEl.id);
      if (reveal) activeEl.scrollIntoView({ block: 'nearest' });
    } else input.removeAttribute('aria-activedescendant');
  }

  let frame = 0;
  function schedule() {
    if (frame) return;
    frame = setTimeout(() => {
      frame = 0;
      if (dialog.open) render();
    }, 0);
  }

  // ---- opening a result --------------------------------------------------------------------
  function done() {
    view.opened = true;
    close();
  }

  function openConversation(id) {
    done();
    location.hash = `#/c/${id}`;
  }

  async function openPerson(u) {
    // As a click on the person in the sidebar: the direct conversation, made on first use.
    const known = [...state.conversations.values()].find((c) => c.kind === 'direct' && peer(c) && peer(c).id === u.id);
    if (known) return openConversation(known.id);
    done();
    try {
      location.hash = `#/c/${await session.openDirect(u.id)}`;
    } catch (err) {
      toast(err.message || 'Could not open the conversation.', 'error');
    }
    return undefined;
  }

  function openHit(hit) {
    done();
    showMessage(hit.conversation, hit.seq);
  }

  // ---- input and keys -----------------------------------------------------------------------
  function update() {
    const text = input.value.trim();
    search.set(text, view.scoped ? openId : null);
    clearTimeout(userTimer);
    if (text) userTimer = setTimeout(() => session.searchUsers(text).catch(() => {}), USER_SEARCH_MS);
    render();
  }

  input.addEventListener('input', update);
  input.addEventListener('keydown', (event) => {
    if (event.isComposing) return;
    const n = view.options.length;
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      if (!n) return;
      const at = view.options.findIndex((o) => o.key === view.active);
      const next = event.key === 'ArrowDown' ? (at + 1) % n : (at <= 0 ? n - 1 : at - 1);
      view.active = view.options[next].key;
      mark(true);
    } else if (event.key === 'Enter') {
      event.preventDefault();
      const o = view.options.find((x) => x.key === view.active);
      if (o) o.run();
    }
  });
  if (scope) {
    scope.addEventListener('click', () => {
      view.scoped = !view.scoped;
      scope.setAttribute('aria-pressed', view.scoped ? 'true' : 'false');
      update();
      input.focus();
    });
  }

  // ---- open and close -------------------------------------------------------------------------
  const close = () => {
    if (dialog.open) dialog.close();
  };
  closeBtn.addEventListener('click', close);
  dialog.addEventListener('click', (event) => {
    if (event.target === dialog) close();
  });
  const offs = [on('users', schedule), on('conversations', schedule)];
  dialog.addEventListener('close', () => {
    search.stop();
    clearTimeout(userTimer);
    clearTimeout(frame);
    offs.forEach((off) => off());
    dialog.remove();
    if (current.palette && current.palette.dialog === dialog) current.palette = null;
    // Back where the focus was, unless a result was opened (its view takes the focus).
    if (!view.opened && !current.palette && returnTo && returnTo.isConnected && typeof returnTo.focus === 'function') returnTo.focus();
  });
  document.body.append(dialog);
  current.palette = { dialog, input };
  dialog.showModal();
  input.focus();
  render();
}
