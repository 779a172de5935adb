// Notifications in a real browser (issue 23): desktop notifications for new messages while the
// tab is hidden (permission asked only on the settings page's click, never on load), the unread
// count in the title and drawn on the favicon, the per-conversation level in the chat header
// (a muted conversation notifies nothing and its count is not emphasized or counted in the
// title), the do-not-disturb, settings reaching the user's other tab, and the service worker
// served as JavaScript from the root. Screenshots of the settings page and the header menu at
// desktop and phone widths.
//
// The browser's Notification is replaced by a recorder before the app loads (headless Chromium
// shows none), and the tab's visibility is driven by the test.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { aliceAndBob, assertClean, logIn, newUserPage, rest, shot, withServer } from './harness.js';

const PHONE = { width: 390, height: 844 };

/** Records notifications and permission requests; lets the test hide the tab. */
function instrument() {
  window.__shown = [];
  window.__asked = 0;
  window.__hidden = false;
  class Recorder {
    constructor(title, options = {}) {
      window.__shown.push({ title, body: options.body, tag: options.tag });
    }

    close() {}
  }
  Recorder.permission = 'default';
  Recorder.requestPermission = async () => {
    window.__asked += 1;
    Recorder.permission = 'granted';
    return 'granted';
  };
  window.Notification = Recorder;
  Object.defineProperty(Document.prototype, 'visibilityState', { get: () => (window.__hidden ? 'hidden' : 'visible') });
  Object.defineProperty(Document.prototype, 'hidden', { get: () => window.__hidden });
}

async function setHidden(page, hidden) {
  await page.evaluate((h) => {
    window.__hidden = h;
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);
}

const shown = (page) => page.evaluate(() => window.__shown);

async function send(server, from, conversation, id, body) {
  const res = await rest(server.url, 'POST', `/conversations/${conversation}/messages`, { client_id: id, body }, from.token);
  assert.equal(res.status, 200, JSON.stringify(res.body));
}

test('the service worker is served from the root as JavaScript', () => withServer(async ({ server }) => {
  const res = await fetch(`${server.url}/sw.js`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/javascript/);
  assert.match(await res.text(), /addEventListener\('push'/);
}));

test('hidden tab: a notification per message by the level; title and favicon count; settings page', () => withServer(async ({ server, browser }) => {
  const { alice, bob, direct } = await aliceAndBob(server);
  await send(server, alice, direct, 'warm-up', 'hi bob');
  const page = await newUserPage(browser, server.url);
  await page.addInitScript(instrument);
  await logIn(page, 'bob');
  const other = await newUserPage(browser, server.url, PHONE);
  await other.addInitScript(instrument);
  await logIn(other, 'bob');
  assert.equal(await page.evaluate(() => window.__asked), 0, 'no permission asked on load');

  // Allow desktop notifications from the settings page (the click asks).
  await page.goto('/#/settings/notifications');
  await page.click('[data-action=allow-desktop]');
  await page.waitForSelector('[data-desktop=granted]');
  assert.equal(await page.evaluate(() => window.__asked), 1);
  await shot(page, 'notifications-settings-desktop');
  await page.goto('/#/');
  await page.locator(`.list .item[data-conversation="${direct}"]`).waitFor();

  // Hidden tab: one notification per message, the count in the title and on the favicon.
  await setHidden(page, true);
  await send(server, alice, direct, 'n1', 'are you there?');
  await page.waitForFunction(() => window.__shown.length === 1);
  assert.deepEqual((await shown(page))[0], { title: 'alice', body: 'are you there?', tag: `kanect-${direct}` });
  await page.waitForFunction(() => document.title.startsWith('('));
  const badge = await page.waitForFunction(() => document.querySelector('link[rel=icon]')?.getAttribute('data-badge'));
  assert.ok(Number(await badge.jsonValue()) >= 1);
  assert.match(await page.evaluate(() => document.querySelector('link[rel=icon]').href), /^data:image\/png/);

  // Muted from the header: nothing notifies, the item is marked, the title does not count it.
  await setHidden(page, false);
  await page.goto(`/#/c/${direct}`);
  await page.waitForFunction(() => document.title === 'Kanect');
  await page.selectOption('[data-notification-level]', 'muted');
  await page.waitForSelector('[data-notification-level][data-level=muted]');
  // The other tab hears of it.
  await other.waitForSelector(`.list .item[data-conversation="${direct}"][data-muted]`);
  await shot(page, 'notifications-header-desktop');
  await other.goto(`/#/c/${direct}`);
  await other.waitForSelector('[data-notification-level][data-level=muted]');
  await shot(other, 'notifications-header-phone');
  // The other tab leaves the conversation (showing it, it would read what comes).
  await other.goto('/#/');
  await page.goto('/#/');
  await setHidden(page, true);
  await send(server, alice, direct, 'n2', 'muted message');
  await page.locator(`.list .item[data-conversation="${direct}"] .badge-muted`).waitFor();
  assert.equal((await shown(page)).length, 1, 'no notification while muted');
  assert.equal(await page.evaluate(() => document.title), 'Kanect', 'a muted conversation is not counted');

  // Mentions only: a plain message is silent, a mention notifies.
  const level = await rest(server.url, 'PUT', `/conversations/${direct}/notifications`, { level: 'mentions' }, bob.token);
  assert.equal(level.status, 200);
  await page.waitForFunction(() => !document.querySelector('.list .item[data-muted]'));
  await send(server, alice, direct, 'n3', 'plain');
  await send(server, alice, direct, 'n4', 'look @bob');
  await page.waitForFunction(() => window.__shown.length === 2);
  assert.equal((await shown(page))[1].body, 'look @bob');

  // Do not disturb, set from the settings page in the other tab: nothing notifies.
  await rest(server.url, 'PUT', `/conversations/${direct}/notifications`, { level: 'all' }, bob.token);
  await other.goto('/#/settings/notifications');
  await other.selectOption('[data-setting=dnd]', 'on');
  // This tab hears of it (and of the level back at "all") before the next message.
  await page.waitForFunction(async (id) => {
    const n = await import('/notifications.js');
    return n.doNotDisturb() && n.levelOf(id) === 'all';
  }, direct);
  await shot(other, 'notifications-settings-phone');
  await send(server, alice, direct, 'n5', 'during dnd');
  await page.locator(`.list .item[data-conversation="${direct}"] .item-sub`, { hasText: 'during dnd' }).waitFor();
  assert.equal((await shown(page)).length, 2, 'nothing during do-not-disturb');
  assertClean(page, other);
}));
