// Settings › Notifications (`#/settings/notifications`): the do-not-disturb (off, for an hour,
// for eight hours, until turned off), desktop notifications in this browser (permission asked
// only when the button is clicked), the sound (this browser), Web Push (this device), and the
// conversations whose level is not "all", each with a way back to it.
//
// The settings live on the server (session.js sends the changes; notifications.js holds what
// came back, also from the user's other devices, and the tab follows them while it is on
// screen); the sound and the permission are this browser's own.

import { h, replace, toast } from '../dom.js';
import * as notifications from '../notifications.js';
import * as push from '../push.js';
import * as session from '../session.js';
import { state } from '../state.js';
import { conversationTitle } from '../titles.js';

const HOUR = 3600 * 1000;

function when(until) {
  return new Date(until).toLocaleString([], { weekday: 'short', hour: '2-digit', minute: '2-digit' });
}

function row(label, detail, control) {
  return h('div', { class: 'settings-row' },
    h('div', { class: 'settings-row-text' }, h('span', { class: 'settings-label' }, label), detail ? h('span', { class: 'settings-detail muted' }, detail) : null),
    control);
}

function failed(err) {
  toast(err && err.message ? err.message : 'That did not work. Try again.');
}

/** Renders the notifications tab into `body`, and again whenever the settings change while it
 *  is on the page (the first change after it left ends the following). */
export function renderNotifications(body) {
  async function render() {
    const settings = notifications.settings();
    const dndOn = notifications.doNotDisturb();
    const dnd = h('select', { class: 'settings-select', 'aria-label': 'Do not disturb', 'data-setting': 'dnd' },
      h('option', { value: 'off' }, 'Off'),
      h('option', { value: '1h' }, 'For 1 hour'),
      h('option', { value: '8h' }, 'For 8 hours'),
      h('option', { value: 'on' }, 'Until I turn it off'));
    dnd.value = !dndOn ? 'off' : settings.do_not_disturb.until == null ? 'on' : '1h';
    if (dndOn && settings.do_not_disturb.until != null) {
      dnd.append(h('option', { value: 'current' }, `Until ${when(settings.do_not_disturb.until)}`));
      dnd.value = 'current';
    }
    dnd.addEventListener('change', () => {
      const choice = dnd.value;
      const until = choice === '1h' ? Date.now() + HOUR : choice === '8h' ? Date.now() + 8 * HOUR : null;
      session.setDoNotDisturb(choice !== 'off', until).catch(failed);
    });

    const permission = notifications.permission();
    const desktop = permission === 'granted'
      ? h('span', { class: 'settings-state', 'data-desktop': 'granted' }, 'On')
      : permission === 'denied'
        ? h('span', { class: 'settings-state muted', 'data-desktop': 'denied' }, 'Blocked in the browser')
        : permission === 'unsupported'
          ? h('span', { class: 'settings-state muted', 'data-desktop': 'unsupported' }, 'Not available')
          : h('button', { type: 'button', class: 'btn', 'data-action': 'allow-desktop' }, 'Allow');
    if (desktop.tagName === 'BUTTON') {
      desktop.addEventListener('click', async () => {
        await notifications.requestPermission();
        render();
      });
    }

    const sound = h('input', { type: 'checkbox', class: 'settings-check', 'aria-label': 'Play a sound', 'data-setting': 'sound' });
    sound.checked = notifications.soundOn();
    sound.addEventListener('change', () => {
      notifications.setSound(sound.checked);
      if (sound.checked) notifications.beep();
    });

    let pushControl;
    if (!push.supported()) pushControl = h('span', { class: 'settings-state muted', 'data-push': 'unsupported' }, 'Not available');
    else {
      const subscribed = Boolean(await push.current().catch(() => null));
      pushControl = h('button', { type: 'button', class: 'btn', 'data-action': subscribed ? 'push-off' : 'push-on' }, subscribed ? 'Turn off' : 'Turn on');
      pushControl.addEventListener('click', async () => {
        pushControl.disabled = true;
        try {
          if (subscribed) await push.disable();
          else if (!(await push.enable())) toast('Notifications are not allowed in this browser.');
        } catch (err) {
          failed(err);
        }
        render();
      });
    }

    const special = settings.conversations
      .map((c) => ({ ...c, conv: state.conversations.get(c.conversation) }))
      .filter((c) => c.conv && notifications.levelOf(c.conversation) !== 'all');
    const list = special.length
      ? special.map((c) => {
        const reset = h('button', { type: 'button', class: 'btn btn-quiet', 'data-action': 'level-all', 'data-conversation': c.conversation }, 'Notify all');
        reset.addEventListener('click', () => session.setNotificationLevel(c.conversation, 'all').catch(failed));
        const level = c.level === 'mentions' ? 'Mentions only' : c.until != null ? `Muted until ${when(c.until)}` : 'Muted';
        return row(conversationTitle(c.conv), level, reset);
      })
      : [h('p', { class: 'muted settings-empty' }, 'Every conversation notifies you of every message. Change one from its header.')];

    if (!body.isConnected) return;
    replace(body,
      h('section', { class: 'settings-card' },
        h('h2', {}, 'Do not disturb'),
        row('Pause notifications', dndOn ? 'On: nothing interrupts you.' : 'Desktop notifications, sounds and pushes.', dnd)),
      h('section', { class: 'settings-card' },
        h('h2', {}, 'This browser'),
        row('Desktop notifications', 'For new messages while Kanect is in another tab.', desktop),
        row('Sound', 'A short tone with each notification.', sound),
        row('Push notifications', 'Also when Kanect is closed, on this device.', pushControl)),
      h('section', { class: 'settings-card' },
        h('h2', {}, 'Conversations'),
        ...list));
  }

  const off = notifications.onSettings(() => {
    if (body.isConnected) render();
    else off();
  });
  render();
}
