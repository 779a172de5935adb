// Replies in the chat view: the quoted preview a reply shows above its body (a button that
// jumps to the original), the "Replying to …" bar above the composer, and the jump itself,
// which reads the history between the original and what is loaded when it is not loaded yet
// (session.loadAround), then scrolls to it and flashes it. Names and texts are text nodes.

import { displayName, h, icon, toast } from '../dom.js';
import { plainText } from '../markdown.js';
import { previewOf } from '../replies.js';
import * as session from '../session.js';
import { state } from '../state.js';
import { errorText } from './auth.js';

/** How long a message jumped to stays highlighted. */
const FLASH_MS = 1600;

/** Who a preview names: "You", or the sender's name. */
function senderName(id) {
  return state.me && id === state.me.id ? 'You' : displayName(state.users.get(id));
}

/** A preview's text on one line, formatting marks left out. */
function previewText(preview) {
  return plainText(preview.text).replace(/\s+/g, ' ');
}

/**
 * The quote a reply shows above its body: the original's sender and first line, or "Original
 * message deleted". Clicking it calls `onJump(seq)`.
 */
export function replyQuote(m, onJump) {
  const preview = m.reply;
  const quote = h('button', {
    type: 'button',
    class: `reply-quote${preview.deleted ? ' reply-deleted' : ''}`,
    'data-action': 'jump-original',
    'data-reply-to': String(m.reply_to),
    title: 'Show the original message',
  },
  preview.deleted ? null : h('span', { class: 'reply-sender' }, senderName(preview.sender)),
  h('span', { class: 'reply-text' }, preview.deleted ? 'Original message deleted' : previewText(preview)));
  quote.addEventListener('click', (event) => {
    // The bubble's own click (showing the actions on a touch screen) is not this one.
    event.stopPropagation();
    onJump(m.reply_to);
  });
  return quote;
}

/** The signature of a message's quote (to know when to draw it again). */
export function quoteSig(m) {
  return m.reply ? [m.reply_to, m.reply.deleted, m.reply.text, senderName(m.reply.sender)] : null;
}

/**
 * The bar above the composer while a reply is being written: `{el, start(m), cancel(),
 * seq()}`. `onChange()` follows a start or a cancel (to move the focus, resize).
 */
export function createReplyBar(onChange) {
  const label = h('span', { class: 'reply-bar-text' });
  const close = h('button', { type: 'button', class: 'icon-btn small', 'aria-label': 'Cancel reply', title: 'Cancel reply (Esc)', 'data-action': 'cancel-reply' }, icon('close'));
  const el = h('div', { class: 'reply-bar', 'data-reply-bar': '', hidden: true }, icon('reply', 'icon reply-bar-icon'), label, close);
  let current = null;
  const bar = {
    el,
    /** Starts replying to `m` (a stored message). */
    start(m) {
      current = m;
      const preview = previewOf(m);
      label.replaceChildren(
        'Replying to ',
        h('strong', {}, senderName(m.sender)),
        `: ${previewText(preview) || 'a message'}`,
      );
      el.hidden = false;
      onChange();
    },
    /** Stops replying; returns whether a reply was being written. */
    cancel() {
      if (!current) return false;
      current = null;
      el.hidden = true;
      onChange();
      return true;
    },
    /** The seq of the message replied to, or null. */
    seq() {
      return current ? current.seq : null;
    },
    /** The id of the message replied to, or null. */
    target() {
      return current ? current.id : null;
    },
  };
  close.addEventListener('click', () => bar.cancel());
  return bar;
}

/**
 * Scrolls the pane to the message at `seq` and flashes it, reading the history around it first
 * when it is not loaded. `render()` draws the view at once (after the read). `tooFar`: what
 * the reader is told when the message is further back than the app reads to reach it.
 */
export async function jumpToMessage(conversationId, seq, pane, render, tooFar = 'The original message is too far back to show here.') {
  let found;
  try {
    found = await session.loadAround(conversationId, seq);
  } catch (err) {
    toast(errorText(err), 'error');
    return;
  }
  render();
  const row = pane.querySelector(`.msg[data-seq="${seq}"]`);
  if (!found || !row) {
    toast(tooFar, 'error');
    return;
  }
  row.scrollIntoView({ block: 'center' });
  row.classList.remove('flash');
  // Restarts the animation when the same message is jumped to twice.
  void row.offsetWidth;
  row.classList.add('flash');
  setTimeout(() => row.classList.remove('flash'), FLASH_MS);
}
