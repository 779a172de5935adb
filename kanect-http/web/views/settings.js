// The settings page (`#/settings/<tab>`): the signed-in user's own account, one tab per
// concern. Each tab is an entry of SETTINGS_TABS — its route key, its label and the function
// that renders it into the page — so another tab is one more entry and one module, nothing
// else. Reachable from the user menu in the sidebar's header (and the bell, for notifications).
//
// The tab bar is a WAI-ARIA tablist whose tabs are links (each tab is an address, so it can be
// bookmarked, and Back goes to the tab before): a click or Enter follows the link; Left/Right
// (wrapping), Home and End go to the tab there at once (automatic activation). Only the selected
// tab is in the Tab order. A key selects and focuses its tab at once (so keys pressed faster
// than the page renders each go on from the last); since a tab change renders the page anew, the
// selected tab takes the focus back when a tab had it, so the arrow keys go on working.

import { h, icon, replace } from '../dom.js';
import { go } from '../router.js';
import { state } from '../state.js';
import { renderEmail } from './settings-email.js';
import { renderNotifications } from './settings-notifications.js';
import { renderProfile } from './settings-profile.js';
import { renderSecurity } from './settings-security.js';

/** The tabs, in order: `{key, label, render(main)}`. Add a tab here. */
export const SETTINGS_TABS = [
  { key: 'profile', label: 'Profile', render: renderProfile },
  { key: 'security', label: 'Security', render: renderSecurity },
  { key: 'email', label: 'E-mail', render: renderEmail },
  { key: 'notifications', label: 'Notifications', render: renderNotifications },
];

/** The route pattern: `/settings` (the first tab) or `/settings/<tab>`. */
export const SETTINGS_ROUTE = /^\/settings(?:\/([a-z-]+))?$/;

/** The tab a key moves to from the tab at `index`, or null for other keys. */
function tabForKey(key, index) {
  const last = SETTINGS_TABS.length - 1;
  switch (key) {
    case 'ArrowRight': return SETTINGS_TABS[index === last ? 0 : index + 1];
    case 'ArrowLeft': return SETTINGS_TABS[index === 0 ? last : index - 1];
    case 'Home': return SETTINGS_TABS[0];
    case 'End': return SETTINGS_TABS[last];
    default: return null;
  }
}

/** The tab bar, with `selected` selected. */
function tabBar(selected) {
  const bar = h('div', { class: 'admin-tabs', role: 'tablist', 'aria-label': 'Settings sections' },
    SETTINGS_TABS.map((t) => h('a', {
      class: 'admin-tab',
      href: `#/settings/${t.key}`,
      id: `settings-tab-${t.key}`,
      role: 'tab',
      'data-tab': t.key,
      'aria-selected': String(t === selected),
      'aria-controls': 'settings-main',
      tabindex: t === selected ? '0' : '-1',
    }, t.label)));
  bar.addEventListener('keydown', (event) => {
    const from = SETTINGS_TABS.findIndex((t) => t.key === event.target.getAttribute('data-tab'));
    const to = from < 0 || event.altKey || event.ctrlKey || event.metaKey ? null : tabForKey(event.key, from);
    if (!to) return;
    event.preventDefault();
    // Selected and focused at once, not when the page is rendered anew: a key pressed before
    // that render goes on from this tab, not from the one the page still shows.
    for (const tab of bar.querySelectorAll('[role=tab]')) {
      const chosen = tab.getAttribute('data-tab') === to.key;
      tab.setAttribute('aria-selected', String(chosen));
      tab.tabIndex = chosen ? 0 : -1;
      if (chosen) tab.focus();
    }
    go(`/settings/${to.key}`);
  });
  return bar;
}

/** Renders the settings route matched by SETTINGS_ROUTE into `root`. */
export function renderSettings(root, routeMatch) {
  const tab = SETTINGS_TABS.find((t) => t.key === routeMatch[1]) || SETTINGS_TABS[0];
  const tabHadFocus = Boolean(document.activeElement && document.activeElement.closest('.settings [role=tablist]'));
  state.open = null; // no conversation is on screen: nothing gets marked read meanwhile
  const main = h('main', {
    class: 'admin-main settings-main', id: 'settings-main', role: 'tabpanel', 'aria-labelledby': `settings-tab-${tab.key}`, 'data-settings': tab.key,
  });
  const tabs = tabBar(tab);
  replace(root, h('div', { class: 'admin settings' },
    h('header', { class: 'admin-top' },
      h('a', { class: 'icon-btn', href: '#/', title: 'Back to chat', 'aria-label': 'Back to chat', 'data-action': 'back-to-chat' }, icon('back')),
      h('h1', { class: 'admin-title' }, 'Settings'),
      h('span', { class: 'admin-me muted' }, state.me ? `@${state.me.username}` : '')),
    tabs,
    main));
  if (tabHadFocus) tabs.querySelector('[aria-selected=true]').focus();
  tab.render(main);
}
