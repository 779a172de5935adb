// The sidebar of someone in many groups: the conversation list comes a page at a time, the next
// page read as the end of the list scrolls into view, every conversation once, and one that an
// event names before its page was read shows at once. Sends refused for going too fast wait as
// the server says and go out by themselves; a conversation with a disabled account closes its
// composer until the account is enabled again.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  apiSignup, assertClean, bubbles, createAdmin, logIn, newUserPage, rest, sendText, shot, withServer,
} from './harness.js';

/** More than two pages of the list (the web app reads 50 at a time). */
const GROUPS = 120;
/** Well under any re-read, well over a frame's delivery. */
const LIVE_MS = 5000;

/** The ids of the conversations in the sidebar, top to bottom. */
function listed(page) {
  return page.locator('.list .item[data-conversation]').evaluateAll((items) => items.map((i) => i.dataset.conversation));
}

/** Scrolls the sidebar to its end until no older conversations are left (bounded). */
async function scrollToTheEnd(page) {
  for (let round = 0; round < 20; round++) {
    if (!(await page.locator('[data-action=more-conversations]').count())) return;
    await page.locator('.list').evaluate((el) => { el.scrollTop = el.scrollHeight; });
    await page.waitForTimeout(200);
  }
  throw new Error('older conversations kept coming');
}

test('an account in many groups gets its sidebar a page at a time, each conversation once', () => withServer(async ({ server, browser }) => {
  const alice = await apiSignup(server.url, 'alice');
  const mallory = await apiSignup(server.url, 'mallory');
  const made = [];
  for (let i = 1; i <= GROUPS; i++) {
    // One of them tries to be HTML: names are shown as text.
    const name = i === 7 ? '<img src=x onerror=alert(1)> seven' : `Group ${i}`;
    const res = await rest(server.url, 'POST', '/conversations', { name, members: [alice.user.id] }, mallory.token);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    made.push(res.body.id);
  }

  const page = await newUserPage(browser, server.url);
  await logIn(page, 'alice');
  // The first page: the 50 newest, then the entry that reads more.
  await page.locator('[data-action=more-conversations]').waitFor();
  const first = await listed(page);
  assert.ok(first.length >= 50 && first.length < GROUPS, `${first.length} listed at first`);
  assert.deepEqual(first.slice(0, 50), made.slice(-50).reverse(), 'newest first');
  await shot(page, 'sidebar-first-page-desktop');

  // A message into the oldest group, whose page was not read: it comes to the top at once.
  assert.ok(!first.includes(made[0]));
  const said = await rest(server.url, 'POST', `/conversations/${made[0]}/messages`, { client_id: 'm1', body: 'still there?' }, mallory.token);
  assert.equal(said.status, 200);
  await page.waitForFunction((id) => document.querySelector('.list .item[data-conversation]')?.dataset.conversation === id, made[0], { timeout: LIVE_MS });
  await page.locator(`.list .item[data-conversation="${made[0]}"] .badge`).waitFor();

  // Scrolling down reads the rest: every group exactly once, in order. (The second page is held
  // back a moment, to see the list say it is reading.)
  let held = false;
  await page.route(/\/api\/v1\/conversations\?.*after=/, async (route) => {
    if (!held) {
      held = true;
      await new Promise((done) => setTimeout(done, 1500));
    }
    await route.continue();
  });
  await page.locator('.list').evaluate((el) => { el.scrollTop = el.scrollHeight; });
  const loading = page.locator('[data-action=more-conversations]:disabled');
  await loading.waitFor();
  assert.equal(await loading.textContent(), 'Loading older conversations…');
  await shot(page, 'sidebar-loading-more-desktop');
  await scrollToTheEnd(page);
  const all = await listed(page);
  assert.equal(all.length, GROUPS);
  assert.equal(new Set(all).size, GROUPS, 'no conversation twice');
  assert.deepEqual(all, [made[0], ...made.slice(1).reverse()]);
  const seven = page.locator(`.list .item[data-conversation="${made[6]}"] .item-title`);
  assert.equal(await seven.textContent(), '<img src=x onerror=alert(1)> seven');
  assert.equal(await page.locator('.list img').count(), 0);
  await shot(page, 'sidebar-all-pages-desktop');

  // On a phone the list is the whole screen, and pages the same way.
  const phone = await newUserPage(browser, server.url, { width: 390, height: 844 });
  await logIn(phone, 'alice');
  await phone.locator('[data-action=more-conversations]').waitFor();
  await shot(phone, 'sidebar-first-page-phone');
  await scrollToTheEnd(phone);
  assert.equal((await listed(phone)).length, GROUPS);
  await shot(phone, 'sidebar-all-pages-phone');
  assertClean(page, phone);
}, { args: ['--limit-groups', 'off'] }));

test('sends past the rate limit wait as the server says and then go out by themselves', () => withServer(async ({ server, browser }) => {
  const bob = await apiSignup(server.url, 'bob');
  const aliceApi = await apiSignup(server.url, 'alice');
  const direct = (await rest(server.url, 'POST', '/conversations/direct', { user: bob.user.id }, aliceApi.token)).body.id;
  const alice = await newUserPage(browser, server.url);
  await logIn(alice, 'alice');
  // By its address: a direct conversation without messages is in no list.
  await alice.goto(`/#/c/${direct}`);
  await alice.locator(`.chat[data-open-conversation="${direct}"] .composer`).waitFor();
  // Two sends at once, then one a second: the third and fourth wait, and are not failures.
  const written = ['one', 'two', 'three', 'four'];
  for (const text of written) await sendText(alice, text);
  await alice.waitForFunction(() => {
    const mine = document.querySelectorAll('.msg.mine');
    const waiting = document.querySelectorAll('.msg.mine[data-status=pending], .msg.mine[data-status=failed]');
    return mine.length === 4 && waiting.length === 0;
  }, null, { timeout: 15_000 });
  const stored = await rest(server.url, 'GET', `/conversations/${direct}/messages`, undefined, bob.token);
  assert.deepEqual(stored.body.messages.map((m) => m.body), written, 'each once, in the order written');
  assertClean(alice);
}, { args: ['--limit-sends', '2/2s'] }));

test('a conversation with a disabled account closes its composer until the account is enabled', () => withServer(async ({ server, browser }) => {
  const root = (await rest(server.url, 'POST', '/auth/login', { username: 'root', password: 'the admin password 7' })).body.token;
  const bob = await apiSignup(server.url, 'bob');
  const alice = await newUserPage(browser, server.url);
  await apiSignup(server.url, 'alice');
  await logIn(alice, 'alice');
  await alice.locator('.list button.item[data-username="bob"]').click();
  await sendText(alice, 'hello bob');
  await bubbles(alice, 'hello bob').waitFor();

  const disable = async (disabled) => {
    const res = await rest(server.url, 'PUT', `/admin/users/${bob.user.id}/disabled`, { disabled }, root);
    assert.equal(res.status, 200);
  };
  await disable(true);
  await alice.locator('[data-composer-closed]').waitFor({ timeout: LIVE_MS });
  assert.match(await alice.locator('[data-composer-closed]').textContent(), /account is disabled/);
  assert.equal(await alice.locator('.chat .chat-sub').textContent(), 'account disabled');
  assert.equal(await alice.locator('.chat form.composer').isVisible(), false);
  await shot(alice, 'sidebar-disabled-peer-desktop');
  await disable(false);
  await alice.locator('.chat form.composer').waitFor({ timeout: LIVE_MS });
  await sendText(alice, 'welcome back');
  await bubbles(alice, 'welcome back').waitFor();
  assertClean(alice);
}, { prepare: (dataDir) => createAdmin(dataDir, 'root', 'the admin password 7') }));
