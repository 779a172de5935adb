// The buttons beside a message: Reply and React on every message, Edit and Delete on mine
// (shown on hover, on focus, or after a tap on a touch screen), and Retry / Discard beside a
// send that failed.

import { h, icon, toast } from '../dom.js';
import * as session from '../session.js';
import { errorText } from './auth.js';
import { confirmDialog } from './dialogs.js';
import { openPicker } from './reactions.js';

/** One small icon button. */
function button(action, title, label, name) {
  return h('button', { type: 'button', class: 'icon-btn small', title, 'aria-label': label, 'data-action': action }, icon(name));
}

/**
 * The actions of a stored message `m`; `mine`: also edit and delete. `on.reply()` and
 * `on.edit()` are the chat view's (the reply bar, the edit box).
 */
export function messageActions(m, mine, on) {
  const reply = button('reply', 'Reply', 'Reply to message', 'reply');
  const react = button('react', 'React', 'React to message', 'smile');
  reply.addEventListener('click', on.reply);
  react.addEventListener('click', () => openPicker(m, react));
  const edit = mine ? button('edit', 'Edit', 'Edit message', 'edit') : null;
  const del = mine ? button('delete', 'Delete', 'Delete message', 'trash') : null;
  const box = h('div', { class: 'msg-actions' }, reply, react, edit, del);
  // Once one is used, the actions a tap showed (touch screens) go away again.
  box.addEventListener('click', () => box.closest('.msg')?.classList.remove('show-actions'));
  if (!mine) return box;
  edit.addEventListener('click', on.edit);
  del.addEventListener('click', async () => {
    if (!(await confirmDialog('Delete message?', 'It will be removed for everyone in the conversation.', 'Delete', true))) return;
    try {
      await session.deleteMessage(m.id);
    } catch (err) {
      toast(errorText(err), 'error');
    }
  });
  return box;
}

/** Retry and Discard beside a pending send `p` that failed, with what went wrong. */
export function failedActions(p) {
  const retry = h('button', { type: 'button', class: 'btn btn-small', 'data-action': 'retry' }, 'Retry');
  const discard = h('button', { type: 'button', class: 'btn btn-small', 'data-action': 'discard' }, 'Discard');
  retry.addEventListener('click', () => session.retrySend(p.client_id));
  discard.addEventListener('click', () => session.discardSend(p.client_id));
  return h('div', { class: 'msg-failed' }, h('span', {}, errorText(p.failedError || {})), retry, discard);
}
