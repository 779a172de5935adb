// The composer's mention list: after `@`, the conversation's members (me left out) whose
// username or name matches what follows, picked with ↑/↓ and Enter or Tab, or a click; Esc
// closes it (and nothing else: not a reply being written). A pick writes `@username ` in place.

import { avatar, displayName, h } from '../dom.js';
import { mentionQuery } from '../mentions.js';
import { state } from '../state.js';

/** Members listed at most. */
const SHOWN = 8;

/**
 * Attaches the list to the composer `input` of `conversationId`; returns `{el, close()}`.
 * Attach it before the composer's own key handlers: an open list takes ↑, ↓, Enter, Tab and
 * Esc first.
 */
export function attachMentionList(input, conversationId) {
  const id = `mentions-${conversationId}`;
  const el = h('div', { class: 'mention-list', id, role: 'listbox', 'aria-label': 'Members', 'data-mention-list': '', hidden: true });
  input.setAttribute('aria-autocomplete', 'list');
  input.setAttribute('aria-controls', id);
  input.setAttribute('aria-expanded', 'false');
  /** What is listed: `{start, users, active}` while open, else null. */
  let shown = null;

  function candidates(query) {
    const conv = state.conversations.get(conversationId);
    const q = query.toLowerCase();
    return (conv ? conv.members : [])
      .filter((uid) => uid !== state.me.id)
      .map((uid) => state.users.get(uid))
      .filter((u) => u && !u.deleted && u.username)
      .filter((u) => u.username.toLowerCase().startsWith(q) || displayName(u).toLowerCase().split(/\s+/).some((w) => w.startsWith(q)))
      .sort((a, b) => a.username.localeCompare(b.username))
      .slice(0, SHOWN);
  }

  function close() {
    shown = null;
    el.hidden = true;
    el.replaceChildren();
    input.setAttribute('aria-expanded', 'false');
    input.removeAttribute('aria-activedescendant');
  }

  function draw() {
    el.replaceChildren(...shown.users.map((u, i) => {
      const option = h('div', {
        class: `mention-option${i === shown.active ? ' active' : ''}`,
        id: `${id}-${i}`,
        role: 'option',
        'aria-selected': i === shown.active ? 'true' : 'false',
        'data-username': u.username,
      }, avatar(u.id, displayName(u), { size: 'sm' }), h('span', { class: 'mention-name' }, displayName(u)), h('span', { class: 'mention-user' }, `@${u.username}`));
      // mousedown, not click: the composer keeps the focus.
      option.addEventListener('mousedown', (event) => {
        event.preventDefault();
        pick(u);
      });
      return option;
    }));
    el.hidden = false;
    input.setAttribute('aria-expanded', 'true');
    input.setAttribute('aria-activedescendant', `${id}-${shown.active}`);
  }

  function update() {
    const found = input.selectionStart === input.selectionEnd ? mentionQuery(input.value, input.selectionStart) : null;
    const users = found ? candidates(found.query) : [];
    if (!users.length) return close();
    const active = shown && shown.start === found.start ? Math.min(shown.active, users.length - 1) : 0;
    shown = { start: found.start, users, active };
    return draw();
  }

  function pick(user) {
    const caret = input.selectionStart;
    const before = input.value.slice(0, shown.start);
    const after = input.value.slice(caret).replace(/^[A-Za-z0-9_.-]*/, '');
    const text = `@${user.username} `;
    input.value = before + text + after;
    const at = before.length + text.length;
    input.setSelectionRange(at, at);
    close();
    // The composer saves its draft and resizes on input.
    input.dispatchEvent(new Event('input', { bubbles: true }));
    input.focus();
  }

  input.addEventListener('input', update);
  input.addEventListener('click', update);
  // Closed when the focus has left for good. When it came straight back (a re-render handing
  // it back), the list is drawn again from what the composer holds now, rather than closed
  // under the keyboard, where the next Esc would then cancel the reply being written instead.
  input.addEventListener('blur', () => setTimeout(() => {
    if (document.activeElement !== input) close();
    else update();
  }, 100));
  input.addEventListener('keydown', (event) => {
    if (!shown || event.isComposing) return;
    const n = shown.users.length;
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      shown.active = (shown.active + (event.key === 'ArrowDown' ? 1 : n - 1)) % n;
      draw();
    } else if ((event.key === 'Enter' && !event.shiftKey) || event.key === 'Tab') {
      pick(shown.users[shown.active]);
    } else if (event.key === 'Escape') {
      close();
    } else return;
    event.preventDefault();
    event.stopImmediatePropagation();
  });
  return { el, close };
}
