// A conversation's notification level in its header: a small select (every message, mentions
// only, muted for an hour, for eight hours, or until unmuted), showing the level in force,
// also as another device of the user changes it.

import { h, toast } from '../dom.js';
import { levelOf, mutedUntil, onSettings } from '../notifications.js';
import * as session from '../session.js';

const HOUR = 3600 * 1000;

/** The select for `conversationId`: `{ el, destroy }`. */
export function notificationMenu(conversationId) {
  const select = h('select', { class: 'head-level', 'aria-label': 'Notifications for this conversation', title: 'Notifications', 'data-notification-level': '' });
  function render() {
    const level = levelOf(conversationId);
    const until = mutedUntil(conversationId);
    const options = [
      h('option', { value: 'all' }, 'All messages'),
      h('option', { value: 'mentions' }, 'Mentions only'),
      h('option', { value: 'mute-1h' }, 'Mute for 1 hour'),
      h('option', { value: 'mute-8h' }, 'Mute for 8 hours'),
      h('option', { value: 'muted' }, 'Muted'),
    ];
    if (level === 'muted' && until != null) {
      const text = new Date(until).toLocaleString([], { weekday: 'short', hour: '2-digit', minute: '2-digit' });
      options.push(h('option', { value: 'muted-until' }, `Muted until ${text}`));
    }
    select.replaceChildren(...options);
    select.value = level === 'muted' && until != null ? 'muted-until' : level;
    select.setAttribute('data-level', level);
  }
  select.addEventListener('change', () => {
    const choice = select.value;
    const until = choice === 'mute-1h' ? Date.now() + HOUR : choice === 'mute-8h' ? Date.now() + 8 * HOUR : null;
    const level = choice.startsWith('mute') ? 'muted' : choice;
    session.setNotificationLevel(conversationId, level, until).catch((err) => {
      toast(err && err.message ? err.message : 'Could not change the notifications.');
      render();
    });
  });
  const off = onSettings(render);
  render();
  return { el: select, destroy: off };
}
