// A conversation's title as every view shows it: a group's name, or the other member's name.
// Its own module so that the views that show titles (sidebar, chat, palette) need not import
// one another.

import { displayName } from './dom.js';
import { peer } from './state.js';

/** A group's name, or the other member's display name in a direct conversation. */
export function conversationTitle(conv) {
  if (conv.kind === 'group') return conv.name || 'Group';
  return displayName(peer(conv));
}
