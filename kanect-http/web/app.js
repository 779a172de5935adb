// Entry point: restores the session, then routes between log-in, sign-up and the chat shell.

import { h, replace, toast } from './dom.js';
import { currentPath, go, match, route } from './router.js';
import * as session from './session.js';
import { on, state } from './state.js';
import { renderLogin, renderSignup } from './views/auth.js';
import { hideShell, showShell } from './views/shell.js';

const root = document.getElementById('app');

const ENDED = {
  logged_out: null,
  expired: 'Your session has ended. Please log in again.',
  account_disabled: 'Your account has been disabled.',
  password_reset: 'Your password was reset. Log in with the new one.',
  account_deleted: 'Your account has been deleted.',
};

let notice = null;

route(/^\/login$/, () => {
  hideShell();
  renderLogin(root, notice);
  notice = null;
}, 'guest');
route(/^\/signup$/, () => {
  hideShell();
  renderSignup(root);
}, 'guest');
route(/^\/c\/([0-9A-Za-z-]+)$/, (m) => showShell(root, m[1]));
route(/^\/$/, () => showShell(root, null));

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
  render();
}

boot();
