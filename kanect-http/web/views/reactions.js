// Reactions in the chat view: the chips under a message ("👍 2", mine pressed; a click takes
// mine back or adds it; the tooltip names who reacted) and the picker a message's "React"
// action opens: a quick set, and a field for any single emoji (the server judges it: a refusal
// shows as a toast). Changes go out through session.react; what is shown comes back from the
// server (a `reaction` frame, or REST's answer), never guessed.

import { displayName, h, toast } from '../dom.js';
import * as session from '../session.js';
import { state } from '../state.js';
import { errorText } from './auth.js';

/** The quick reactions, offered first. */
export const QUICK = ['👍', '❤️', '😂', '😮', '😢', '🎉'];

/** Who reacted, as the tooltip names them: "You, Alice and Bob". */
function whoText(users) {
  const names = users.map((id) => (state.me && id === state.me.id ? 'You' : displayName(state.users.get(id))));
  return names.length > 1 ? `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}` : names[0] || '';
}

/** The signature of a message's reactions, and of the names they show. */
export function reactionsSig(m) {
  return (m.reactions || []).map((r) => [r.emoji, whoText(r.users)]);
}

/** Adds or takes back my reaction; a refusal shows as a toast. */
export async function toggleReaction(m, emoji, add) {
  try {
    await session.react(m, emoji, add);
  } catch (err) {
    toast(errorText(err), 'error');
  }
}

/** The chips under a message, or null when it has no reactions. */
export function reactionChips(m) {
  if (!m.reactions || !m.reactions.length || m.deleted) return null;
  const me = state.me && state.me.id;
  return h('div', { class: 'reactions', 'data-reactions': '' }, m.reactions.map((r) => {
    const mine = r.users.includes(me);
    const who = whoText(r.users);
    const chip = h('button', {
      type: 'button',
      class: `chip${mine ? ' chip-mine' : ''}`,
      'data-emoji': r.emoji,
      'aria-pressed': mine ? 'true' : 'false',
      'aria-label': `${r.emoji} ${r.users.length}: ${who}`,
      title: `${who} reacted with ${r.emoji}`,
    }, h('span', { class: 'chip-emoji' }, r.emoji), h('span', { class: 'chip-count' }, String(r.users.length)));
    chip.addEventListener('click', (event) => {
      event.stopPropagation();
      toggleReaction(m, r.emoji, !mine);
    });
    return chip;
  }));
}

/** The picker open now: `{close()}`, or null. One at a time. */
let open = null;

/**
 * Opens the picker for message `m` beside `anchor` (the React button). A quick reaction I made
 * already is taken back, as its chip would; the field adds whatever one emoji is typed or
 * pasted. Esc, a click elsewhere or a pick closes it.
 */
export function openPicker(m, anchor) {
  if (open) open.close();
  const me = state.me && state.me.id;
  const mineAlready = new Set((m.reactions || []).filter((r) => r.users.includes(me)).map((r) => r.emoji));
  const field = h('input', { type: 'text', class: 'picker-input', placeholder: 'Any emoji', 'aria-label': 'Any emoji', maxlength: '32', spellcheck: 'false', autocomplete: 'off' });
  const add = h('button', { type: 'submit', class: 'btn btn-primary btn-small', 'data-action': 'react-other' }, 'Add');
  const form = h('form', { class: 'picker-other' }, field, add);
  const quick = QUICK.map((emoji) => {
    const button = h('button', { type: 'button', class: `picker-emoji${mineAlready.has(emoji) ? ' chip-mine' : ''}`, 'data-emoji': emoji, 'aria-label': `React with ${emoji}`, title: emoji }, emoji);
    button.addEventListener('click', () => {
      close();
      toggleReaction(m, emoji, !mineAlready.has(emoji));
    });
    return button;
  });
  const el = h('div', { class: 'picker', role: 'dialog', 'aria-label': 'Add a reaction', 'data-picker': '' }, h('div', { class: 'picker-quick' }, quick), form);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const emoji = field.value.trim();
    if (!emoji) return;
    close();
    toggleReaction(m, emoji, true);
  });
  const onKey = (event) => {
    if (event.key !== 'Escape') return;
    // Esc closes the picker only (not an edit, nor a reply).
    event.preventDefault();
    event.stopPropagation();
    close();
    anchor.focus();
  };
  const onOutside = (event) => {
    if (!el.contains(event.target) && !anchor.contains(event.target)) close();
  };
  // It follows its button when the window is resized (a phone's keyboard opening for the
  // field) or the messages scroll.
  const follow = () => (anchor.isConnected ? place(el, anchor) : close());
  function close() {
    if (open !== handle) return;
    open = null;
    el.remove();
    document.removeEventListener('keydown', onKey, true);
    document.removeEventListener('pointerdown', onOutside, true);
    document.removeEventListener('scroll', follow, true);
    window.removeEventListener('resize', follow);
  }
  const handle = { close };
  open = handle;
  document.body.append(el);
  place(el, anchor);
  document.addEventListener('keydown', onKey, true);
  document.addEventListener('pointerdown', onOutside, true);
  document.addEventListener('scroll', follow, true);
  window.addEventListener('resize', follow);
  quick[0].focus();
  return handle;
}

/** Puts the picker above `anchor` (below it when there is no room), inside the window. */
function place(el, anchor) {
  const a = anchor.getBoundingClientRect();
  const box = el.getBoundingClientRect();
  const margin = 8;
  const left = Math.min(Math.max(margin, a.right - box.width), window.innerWidth - box.width - margin);
  const top = a.top - box.height - 6 >= margin ? a.top - box.height - 6 : Math.min(a.bottom + 6, window.innerHeight - box.height - margin);
  el.style.left = `${Math.max(margin, left)}px`;
  el.style.top = `${Math.max(margin, top)}px`;
}

/** Closes the picker if one is open (the chat view going away). */
export function closePicker() {
  if (open) open.close();
}
