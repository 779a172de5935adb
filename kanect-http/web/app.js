// Entry point: restores the session, then routes between log-in, sign-up and the chat shell.
//
// Layout of the web app (plain ES modules, no build step, embedded in the server binary):
//   api.js       REST calls, with the X-CSRF-Token header on state-changing requests
//   socket.js    the WebSocket: reconnect with backoff, `resume` with cursors, heartbeats
//   state.js     the client's data (users, conversations, threads, pending sends) + events
//   uploads.js   files chosen for a message: each conversation's tray, uploads a few at a time
//   drafts.js    each conversation's unsent composer text, kept across switches and reloads
//   session.js   log-in/out, loading, what each server frame does, every user action
//   router.js    hash routes; a new view registers its own with `route()`
//   dom.js       element builders that only ever insert text; avatars, icons, toasts
//   search.js, jump.js   message search for the Ctrl+K palette (views/palette.js), and showing
//                a message by seq in its conversation
//   time.js, strength.js   formatting and the password meter
//   activity.js  tells the server someone is at this device (input, the tab in view): "away"
//   views/       auth (log-in, sign-up), shell (layout), sidebar, chat, dialogs, attachments
//                (the tray, files in messages, the image viewer), invites (making and listing
//                invite links), admin* (the admin area); mail-links (the pages mailed links
//                open, and the reset request), verify-banner (over the chat while the address is
//                unconfirmed), settings (my account, #/settings/<tab>: a tab per module,
//                settings-profile, -security, -email, -notifications, listed in settings.js's
//                SETTINGS_TABS)
//   notifications.js, favicon.js, push.js   what notifies (the settings and the rule, desktop
//                notifications, sound), the unread badge on the tab's icon, Web Push (sw.js)
// To add a view (e.g. an admin area): write views/admin.js, import it below, and call
// `route(/^\/admin$/, handler)`; the sidebar shows an admin link to `#/admin` for admins.

import { installActivityReports } from './activity.js';
import { h, replace, toast } from './dom.js';
import { currentPath, go, match, route } from './router.js';
import * as session from './session.js';
import { on, state } from './state.js';
import { ADMIN_ROUTE, renderAdmin } from './views/admin.js';
import { renderLogin, renderSignup } from './views/auth.js';
import { registerMailRoutes } from './views/mail-links.js';
import { installPaletteShortcut } from './views/palette.js';
import { renderSettings, SETTINGS_ROUTE } from './views/settings.js';
import { hideShell, showShell } from './views/shell.js';

const root = document.getElementById('app');

const ENDED = {
  local: null,
  logged_out: 'You were logged out, from this device or another one.',
  expired: 'Your session has ended. Please log in again.',
  session_expired: 'Your session has ended. Please log in again.',
  account_disabled: 'Your account has been disabled.',
  password_reset: 'Your password was reset. Log in with the new one.',
  password_changed: 'Your password was changed on another device. Log in with the new one.',
  account_deleted: 'Your account has been deleted.',
};

let notice = null;

route(/^\/login$/, () => {
  hideShell();
  renderLogin(root, notice);
  notice = null;
}, 'guest');
route(/^\/signup(?:\?invite=([0-9A-Za-z]*))?$/, (m) => {
  hideShell();
  renderSignup(root, m[1] || null);
}, 'guest');
// An invite link: the sign-up screen with its invite.
route(/^\/invite\/([0-9A-Za-z]+)$/, (m) => {
  hideShell();
  renderSignup(root, m[1]);
}, 'guest');
route(/^\/c\/([0-9A-Za-z-]+)$/, (m) => showShell(root, m[1]));
route(/^\/$/, () => showShell(root, null));
route(ADMIN_ROUTE, (m) => {
  hideShell();
  renderAdmin(root, m);
});
registerMailRoutes(root);
route(SETTINGS_ROUTE, (m) => {
  hideShell();
  renderSettings(root, m);
});

function render() {
  const path = currentPath();
  const r = match(path);
  const signedIn = Boolean(state.me);
  if (!r) return go(signedIn ? '/' : '/login');
  if (r.auth === 'user' && !signedIn) return go('/login');
  if (r.auth === 'guest' && signedIn) return go('/');
  return r.handler(r.match);
}

on('session', ({ ended }) => {
  notice = ENDED[ended] === undefined ? 'You have been signed out.' : ENDED[ended];
  hideShell();
  go('/login');
});
on('removed', (id) => {
  if (state.open === id) {
    toast('You are no longer in that conversation.');
    go('/');
  }
});

async function boot() {
  replace(root, h('div', { class: 'splash' }, h('div', { class: 'logo' }, h('span', {}, 'K'))));
  for (let attempt = 0; ; attempt++) {
    try {
      await session.restore();
      break;
    } catch {
      // Server unreachable: keep trying, slower each time.
      replace(root, h('div', { class: 'splash' }, h('p', { class: 'muted' }, 'Cannot reach the server. Retrying…')));
      await new Promise((resolve) => setTimeout(resolve, Math.min(10_000, 1000 * 2 ** attempt)));
    }
  }
  window.addEventListener('hashchange', render);
  installPaletteShortcut();
  installActivityReports(session.reportActivity);
  render();
}

boot();
