// "Show this message": a conversation to open scrolled to one of its messages (a search hit).
// The chat view of that conversation may not exist yet (it is built when the route changes), so
// the request waits here until the view, once its newest page is in, takes it (`takeJump`);
// a view already open hears of it at once through the state's 'jump' event.

import { emit } from './state.js';

/** The message waiting to be shown: `{conversation, seq}`, or null. */
const pending = { jump: null };

/** Opens `conversationId` and shows its message `seq` (read from the server if not loaded). */
export function showMessage(conversationId, seq) {
  pending.jump = { conversation: conversationId, seq };
  const hash = `#/c/${conversationId}`;
  if (location.hash !== hash) location.hash = hash;
  else emit('jump', conversationId);
}

/** The seq waiting to be shown in `conversationId` (taken: asked once), or null. */
export function takeJump(conversationId) {
  const jump = pending.jump;
  if (!jump || jump.conversation !== conversationId) return null;
  pending.jump = null;
  return jump.seq;
}
