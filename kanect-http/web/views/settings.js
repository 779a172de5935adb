// The settings page (`#/settings/<tab>`): the signed-in user's own account, one tab per
// concern. Each tab is an entry of SETTINGS_TABS — its route key, its label and the function
// that renders it into the page — so another tab (e-mail, notifications) is one more entry
// and one module, nothing else. Reachable from the user menu in the sidebar's header.

import { h, icon, replace } from '../dom.js';
import { state } from '../state.js';
import { renderProfile } from './settings-profile.js';
import { renderSecurity } from './settings-security.js';

/** The tabs, in order: `{key, label, render(main)}`. Add a tab here. */
export const SETTINGS_TABS = [
  { key: 'profile', label: 'Profile', render: renderProfile },
  { key: 'security', label: 'Security', render: renderSecurity },
];

/** Settings pages other modules render whole (settings-email.js, settings-notifications.js,
 *  which register their own routes first), linked from the same tab bar. */
const LINKED_PAGES = [
  { key: 'email', label: 'E-mail' },
  { key: 'notifications', label: 'Notifications' },
];

/** The route pattern: `/settings` (the first tab) or `/settings/<tab>`. */
export const SETTINGS_ROUTE = /^\/settings(?:\/([a-z-]+))?$/;

/** Renders the settings route matched by SETTINGS_ROUTE into `root`. */
export function renderSettings(root, routeMatch) {
  const tab = SETTINGS_TABS.find((t) => t.key === routeMatch[1]) || SETTINGS_TABS[0];
  state.open = null; // no conversation is on screen: nothing gets marked read meanwhile
  const main = h('main', { class: 'admin-main settings-main', id: 'settings-main', 'data-settings': tab.key });
  const tabs = h('nav', { class: 'admin-tabs', 'aria-label': 'Settings sections' },
    [...SETTINGS_TABS, ...LINKED_PAGES].map((t) => h('a', {
      class: 'admin-tab',
      href: `#/settings/${t.key}`,
      'data-tab': t.key,
      'aria-current': t === tab ? 'page' : null,
    }, t.label)));
  replace(root, h('div', { class: 'admin settings' },
    h('header', { class: 'admin-top' },
      h('a', { class: 'icon-btn', href: '#/', title: 'Back to chat', 'aria-label': 'Back to chat', 'data-action': 'back-to-chat' }, icon('back')),
      h('h1', { class: 'admin-title' }, 'Settings'),
      h('span', { class: 'admin-me muted' }, state.me ? `@${state.me.username}` : '')),
    tabs,
    main));
  tab.render(main);
}
