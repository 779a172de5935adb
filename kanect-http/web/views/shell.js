// The signed-in layout: the list on the left, the open conversation (or a welcome panel) on
// the right. On a phone-width screen only one pane shows at a time (`data-pane`).

import { h, icon, replace } from '../dom.js';
import { emit, state } from '../state.js';
import { createChat } from './chat.js';
import { createSidebar } from './sidebar.js';
import { mountVerifyBanner } from './verify-banner.js';

let shell = null;

function welcome() {
  return h('section', { class: 'welcome' },
    h('div', { class: 'welcome-art', 'aria-hidden': 'true' }, icon('chat', 'icon icon-xl')),
    h('h2', {}, 'Pick a conversation'),
    h('p', { class: 'muted' }, 'Choose someone on the left to start chatting, or create a group with the people icon.'));
}

/** Shows the shell in `root` with `conversationId` open (or none); reuses it if already shown. */
export function showShell(root, conversationId) {
  if (!shell || !root.contains(shell.el)) {
    if (shell) shell.destroy();
    const sidebar = createSidebar();
    const pane = h('main', { class: 'pane' });
    const el = h('div', { class: 'shell', 'data-pane': 'list' }, sidebar.el, pane);
    replace(root, el);
    mountVerifyBanner(el);
    shell = {
      el,
      pane,
      sidebar,
      chat: null,
      chatId: undefined,
      destroy() {
        sidebar.destroy();
        if (this.chat) this.chat.destroy();
      },
    };
  }
  if (shell.chatId === conversationId) return;
  if (shell.chat) shell.chat.destroy();
  shell.chat = null;
  shell.chatId = conversationId;
  state.open = conversationId || null;
  if (conversationId) {
    shell.chat = createChat(conversationId);
    replace(shell.pane, shell.chat.el);
    if (window.matchMedia('(min-width: 721px)').matches) shell.chat.focus();
  } else {
    replace(shell.pane, welcome());
  }
  shell.el.setAttribute('data-pane', conversationId ? 'chat' : 'list');
  emit('open', conversationId);
}

/** Removes the shell (log-out). */
export function hideShell() {
  if (shell) shell.destroy();
  shell = null;
}
