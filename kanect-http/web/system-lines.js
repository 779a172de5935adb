// System lines: the messages with an `event` that a group's history keeps of its own changes
// (PROTOCOL.md, "System lines"). They are notes, not anyone's text: the chat shows them as a
// centred line without actions, the sidebar's preview says the same words, and they never count
// as unread, end a typing indicator or open the "New messages" divider. The words are made here
// only, as plain text (a group name is user text: the views insert it as a text node).

/** Whether a message is a system line. */
export function isSystemLine(message) {
  return Boolean(message && message.event);
}

/**
 * The one-line text of a system line. `nameOf(id)` gives a user's display name; `meId` is the
 * signed-in user, who is "You" as the actor and "you" as the one added or removed. A kind this
 * app does not know reads "The group changed".
 */
export function systemLineText(message, meId, nameOf) {
  const event = message.event || {};
  const actor = message.sender === meId ? 'You' : nameOf(message.sender);
  const user = () => (event.user === meId ? 'you' : nameOf(event.user));
  switch (event.kind) {
    case 'created':
      return `${actor} created the group “${event.name || ''}”`;
    case 'renamed':
      return `${actor} renamed the group to “${event.name || ''}”`;
    case 'added':
      return `${actor} added ${user()}`;
    case 'removed':
      return `${actor} removed ${user()}`;
    case 'left':
      return `${actor} left`;
    default:
      return 'The group changed';
  }
}
