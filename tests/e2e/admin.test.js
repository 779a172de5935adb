// The admin area in a real browser: an administrator made with the server binary's
// `create-admin` subcommand logs in, reads the stats, finds a user and disables them (their
// open page is sent back to log-in at once), enables them again, deletes a message in a
// conversation (the members' open page drops it live), promotes and demotes, resets a
// password, deletes an account and reads the audit log. A regular user gets "Not allowed".
// Screenshots of every admin page at desktop and phone widths.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  apiSignup, assertClean, bubbles, createAdmin, logIn, newUserPage, openChatWith, rest, shot,
  signUp, uniqueName, withServer,
} from './harness.js';

const PHONE = { width: 390, height: 844 };
const ADMIN_PASSWORD = 'the admin password 7';

/** `withServer`, on a data directory that `create-admin` gave the admin `root`. */
function withAdminServer(body) {
  return withServer(body, { prepare: (dataDir) => createAdmin(dataDir, 'root', ADMIN_PASSWORD) });
}

async function say(server, token, conversation, body, n) {
  const res = await rest(server.url, 'POST', `/conversations/${conversation}/messages`, { client_id: `adm-${n}`, body }, token);
  assert.equal(res.status, 200);
  return res.body;
}

let token = null;

/** A bearer token for root (logged in once per server, through the API). */
async function adminToken(server) {
  if (!token || token.server !== server.url) {
    const res = await rest(server.url, 'POST', '/auth/login', { username: 'root', password: ADMIN_PASSWORD });
    assert.equal(res.status, 200);
    token = { server: server.url, value: res.body.token };
  }
  return token.value;
}

/** Reads a stat card's number. */
async function stat(page, key) {
  return Number((await page.locator(`[data-stat=${key}]`).textContent()).replace(/[^0-9]/g, ''));
}

/** Saves a screenshot once the toasts (which last 4 s) are gone. */
async function calmShot(page, name) {
  await page.waitForFunction(() => !document.querySelector('#toasts .toast'), null, { timeout: 8000 });
  await shot(page, name);
}

/** Clicks the confirm button of the open confirm dialog. */
async function confirm(page) {
  await page.locator('.dialog[data-dialog=confirm] button[data-action=confirm]').click();
  await page.locator('.dialog[data-dialog=confirm]').waitFor({ state: 'detached' });
}

test('an administrator from create-admin walks the admin pages: stats, disable/enable, delete a message, roles, password, delete a user, audit log', () => withAdminServer(async ({ server, browser }) => {
    const alice = await apiSignup(server.url, 'alice', 'a calm river 42', { display_name: 'Alice Martin', email: 'alice@example.com' });
    const bob = await apiSignup(server.url, 'bob', 'a calm river 42', { display_name: 'Bob Stone' });
    const carol = await apiSignup(server.url, 'carol', 'a calm river 42', { display_name: 'Carol Diaz' });
    await apiSignup(server.url, 'dan.okafor', 'a calm river 42');
    await apiSignup(server.url, 'eve', 'a calm river 42', { display_name: 'Eve Laurent' });
    const direct = (await rest(server.url, 'POST', '/conversations/direct', { user: bob.user.id }, alice.token)).body;
    const group = (await rest(server.url, 'POST', '/conversations', { name: 'Weekend trip', members: [alice.user.id, bob.user.id] }, carol.token)).body;
    let n = 0;
    await say(server, carol.token, group.id, 'Who is up for the lake on Saturday?', n++);
    await say(server, bob.token, group.id, 'Me! I can drive.', n++);
    await say(server, alice.token, direct.id, 'Hi Bob, see you at the station.', n++);
    await say(server, alice.token, direct.id, 'Buy cheap watches at this totally real shop!', n++);
    await say(server, bob.token, direct.id, 'Sure, 9 o\'clock.', n++);

    // Bob is online in his own browser with the direct conversation open.
    const bobPage = await newUserPage(browser, server.url);
    await logIn(bobPage, 'bob');
    await openChatWith(bobPage, 'alice');
    await bubbles(bobPage, 'Buy cheap watches at this totally real shop!').waitFor();

    // The administrator logs in and follows the sidebar's admin link: the counts.
    const page = await newUserPage(browser, server.url);
    await logIn(page, 'root', ADMIN_PASSWORD);
    await page.click('a[data-action=admin]');
    await page.waitForSelector('[data-admin=stats]');
    await page.waitForFunction(() => document.querySelector('[data-stat=users]').textContent !== '…');
    assert.equal(await stat(page, 'users'), 6);
    assert.equal(await stat(page, 'conversations'), 2);
    // Five sent, and the group's "created" line: a stored message like any other (its seq 1).
    assert.equal(await stat(page, 'messages'), 6);
    assert.equal(await stat(page, 'online_users'), 2, 'bob and root');
    assert.equal(await stat(page, 'connections'), 2);
    await shot(page, 'admin-overview-desktop');

    // Users: the list, then a search narrows it to Bob; his row says online.
    await page.click('a[data-tab=users]');
    await page.locator('[data-admin=users] .user-row').first().waitFor();
    assert.equal(await page.locator('[data-admin=users] .user-row').count(), 6);
    await page.locator('.user-row[data-username=root] [data-tag=admin]').waitFor();
    await shot(page, 'admin-users-desktop');
    await page.fill('.admin-search', 'bo');
    await page.waitForFunction(() => document.querySelectorAll('[data-admin=users] .user-row').length === 1);
    await page.locator('.user-row[data-username=bob] [data-presence=online]').waitFor();
    await page.click('.user-row[data-username=bob]');
    await page.waitForSelector('[data-admin=user][data-username=bob]');
    assert.match(await page.locator('[data-admin=user-facts]').textContent(), /Conversations2/);
    await shot(page, 'admin-user-desktop');

    // A weak password is refused with the server's reason; the dialog stays open.
    await page.click('button[data-action=reset-password]');
    await page.fill('#admin-new-password', 'short');
    await page.click('button[data-action=confirm-password]');
    await page.waitForSelector('[data-error-for=password]:text("Passwords have at least 8 characters.")');
    await shot(page, 'admin-reset-password-desktop');
    await page.keyboard.press('Escape');
    await page.locator('.dialog[data-dialog=reset-password]').waitFor({ state: 'detached' });

    // Disable Bob: his page goes back to log-in at once with the reason, and log-in is refused.
    await page.click('button[data-action=disable]');
    await page.waitForSelector('.dialog[data-dialog=confirm]');
    await confirm(page);
    await page.waitForSelector('[data-admin=user][data-disabled=true] [data-tag=disabled]');
    await bobPage.waitForSelector('form[data-form=login] .notice:text("Your account has been disabled.")', { timeout: 5000 });
    await bobPage.fill('#username', 'bob');
    await bobPage.fill('#password', 'a calm river 42');
    await bobPage.click('form[data-form=login] button[type=submit]');
    await bobPage.waitForSelector('form[data-form=login] :text("This account has been disabled")');

    // Enable him again: he logs back in and reopens the conversation.
    await page.click('button[data-action=enable]');
    await page.waitForSelector('[data-admin=user][data-disabled=false]');
    await logIn(bobPage, 'bob');
    await openChatWith(bobPage, 'alice');
    await bubbles(bobPage, 'Buy cheap watches at this totally real shop!').waitFor();

    // Conversations: open the direct one and delete the spam; Bob's page drops it live.
    await page.click('a[data-tab=conversations]');
    await page.locator(`.conversation-row[data-conversation="${direct.id}"]`).waitFor();
    assert.equal(await page.locator('[data-admin=conversations] .conversation-row').count(), 2);
    await page.locator('.conversation-row[data-kind=group]:has-text("Weekend trip")').waitFor();
    await calmShot(page, 'admin-conversations-desktop');
    await page.click(`.conversation-row[data-conversation="${direct.id}"]`);
    const spam = page.locator('.admin-msg', { hasText: 'Buy cheap watches' });
    await spam.waitFor();
    assert.equal(await page.locator('.admin-msg').count(), 3);
    await calmShot(page, 'admin-conversation-desktop');
    await spam.locator('button[data-action=delete-message]').click();
    await confirm(page);
    await page.locator('.admin-msg.is-deleted .admin-msg-body.deleted').waitFor();
    await bubbles(bobPage, 'Buy cheap watches at this totally real shop!').waitFor({ state: 'detached', timeout: 5000 });
    await bobPage.locator('.msg-body.deleted').waitFor();
    assert.equal(await bubbles(bobPage, 'Hi Bob, see you at the station.').count(), 1, 'the others stay');

    // Eve becomes an administrator and back; Dan gets a new password, then is deleted (the
    // dialog says what happens to his messages) and leaves the list.
    await page.click('a[data-tab=users]');
    await page.click('.user-row[data-username=eve]');
    await page.click('button[data-action=promote]');
    await confirm(page);
    await page.waitForSelector('[data-admin=user][data-username=eve][data-role=admin]');
    await page.click('button[data-action=demote]');
    await confirm(page);
    await page.waitForSelector('[data-admin=user][data-username=eve][data-role=user]');
    await page.click('a[data-action=back-to-users]');
    await page.click('.user-row[data-username="dan.okafor"]');
    await page.click('button[data-action=reset-password]');
    await page.fill('#admin-new-password', 'a fresh start 99');
    await page.click('button[data-action=confirm-password]');
    await page.locator('.dialog[data-dialog=reset-password]').waitFor({ state: 'detached' });
    assert.equal((await rest(server.url, 'POST', '/auth/login', { username: 'dan.okafor', password: 'a fresh start 99' })).status, 200);
    await page.click('button[data-action=delete-user]');
    assert.match(await page.locator('.dialog[data-dialog=confirm]').textContent(), /messages stay where they are/);
    await confirm(page);
    await page.waitForSelector('[data-admin=users] .user-row[data-username=alice]');
    assert.equal(await page.locator('.user-row[data-username="dan.okafor"]').count(), 0);

    // A backup taken over the API (as `export --from` does) is audited too.
    const backup = await fetch(`${server.url}/api/v1/admin/export`, { headers: { Authorization: `Bearer ${await adminToken(server)}` } });
    assert.equal(backup.status, 200);
    assert.match((await backup.text()).split('\n')[0], /"format":"kanect-dump"/);

    // The audit log, newest first, every action by root.
    await page.click('a[data-tab=audit]');
    await page.locator('[data-admin=audit] .audit-row').first().waitFor();
    const actions = await page.locator('[data-admin=audit] .audit-row').evaluateAll((rows) => rows.map((r) => r.dataset.action));
    assert.deepEqual(actions, [
      'store.export', 'user.delete', 'user.password_reset', 'user.role', 'user.role', 'message.delete', 'user.enable', 'user.disable',
    ]);
    await page.waitForFunction(() => [...document.querySelectorAll('[data-admin=audit] .admin-who[data-user]')].every((e) => e.textContent !== '…'));
    const texts = await page.locator('[data-admin=audit] .audit-text').allTextContents();
    assert.equal(texts[0], 'root exported a backup of the store');
    assert.equal(texts[1], 'root deleted the account @dan.okafor');
    assert.equal(texts[2], 'root reset the password of @dan.okafor (deleted)');
    assert.equal(texts[4], 'root changed the role of Eve Laurent → admin');
    assert.equal(texts[7], 'root disabled Bob Stone');
    await calmShot(page, 'admin-audit-desktop');
    await page.emulateMedia({ colorScheme: 'dark' });
    await shot(page, 'admin-audit-desktop-dark');
    await page.emulateMedia({ colorScheme: 'light' });

    // The same pages at phone width.
    await page.setViewportSize(PHONE);
    await page.click('a[data-tab=overview]');
    await page.waitForFunction(() => document.querySelector('[data-stat=users]')?.textContent === '5');
    await page.locator('[data-admin=recent] .audit-row').first().waitFor();
    await calmShot(page, 'admin-overview-phone');
    await page.click('a[data-tab=users]');
    await page.locator('[data-admin=users] .user-row').nth(4).waitFor();
    await calmShot(page, 'admin-users-phone');
    await page.click('.user-row[data-username=alice]');
    await page.waitForSelector('[data-admin=user][data-username=alice]');
    await calmShot(page, 'admin-user-phone');
    await page.click('a[data-tab=conversations]');
    await page.click(`.conversation-row[data-conversation="${group.id}"]`);
    await page.locator('.admin-msg').nth(1).waitFor();
    // The group's first message is its "created" line: it says what changed, after who did it.
    const line = page.locator('.admin-msg[data-seq="1"] .admin-msg-event[data-event=created]');
    assert.equal(await line.textContent(), 'created the group “Weekend trip”');
    await page.locator('.admin-msg[data-seq="1"] .admin-who', { hasText: 'Carol Diaz' }).waitFor();
    await calmShot(page, 'admin-conversation-phone');
    await page.click('a[data-tab=audit]');
    await page.locator('[data-admin=audit] .audit-row').nth(6).waitFor();
    await calmShot(page, 'admin-audit-phone');
    assert.equal(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), true, 'no sideways scrolling');

    // Back to the chat from the admin area.
    await page.click('a[data-action=back-to-chat]');
    await page.waitForSelector('.shell');
    assertClean(page, bobPage);
}));

test('the users list and an account page follow sign-ups, changes and deletions made elsewhere', () => withAdminServer(async ({ server, browser }) => {
  const LIVE_MS = 5000;
  const root = await adminToken(server);
  await apiSignup(server.url, 'alice', 'a calm river 42', { display_name: 'Alice Martin' });
  const carol = await apiSignup(server.url, 'carol', 'a calm river 42', { display_name: 'Carol Diaz' });
  const page = await newUserPage(browser, server.url);
  await logIn(page, 'root', ADMIN_PASSWORD);
  await page.click('a[data-action=admin]');
  await page.click('a[data-tab=users]');
  await page.locator('.user-row[data-username=carol]').waitFor();
  const order = () => page.locator('[data-admin=users] .user-row').evaluateAll((rows) => rows.map((r) => r.dataset.username));
  const put = async (path, body) => {
    const res = await rest(server.url, 'PUT', path, body, root);
    assert.equal(res.status, 200, JSON.stringify(res.body));
  };

  // Bob signs up: his row takes its place by username, without a reload.
  const bob = await apiSignup(server.url, 'bob', 'a calm river 42', { display_name: 'Bob Stone' });
  await page.locator('.user-row[data-username=bob]').waitFor({ timeout: LIVE_MS });
  assert.deepEqual(await order(), ['alice', 'bob', 'carol', 'root']);
  // Another administrator's device (root's token, through the API) disables him, then enables
  // him; he logs in and his row says online.
  await put(`/admin/users/${bob.user.id}/disabled`, { disabled: true });
  await page.locator('.user-row[data-username=bob][data-disabled=true] [data-tag=disabled]').waitFor({ timeout: LIVE_MS });
  await put(`/admin/users/${bob.user.id}/disabled`, { disabled: false });
  await page.locator('.user-row[data-username=bob][data-disabled=false]').waitFor({ timeout: LIVE_MS });
  const bobPage = await newUserPage(browser, server.url);
  await logIn(bobPage, 'bob');
  await page.locator('.user-row[data-username=bob] [data-presence=online]').waitFor({ timeout: LIVE_MS });
  // Bea signs up: her row goes between rows that have been replaced meanwhile.
  await apiSignup(server.url, 'bea', 'a calm river 42');
  await page.locator('.user-row[data-username=bea]').waitFor({ timeout: LIVE_MS });
  assert.deepEqual(await order(), ['alice', 'bea', 'bob', 'carol', 'root']);
  // Carol's account is deleted: her row goes.
  assert.equal((await rest(server.url, 'DELETE', `/admin/users/${carol.user.id}`, undefined, root)).status, 204);
  await page.locator('.user-row[data-username=carol]').waitFor({ state: 'detached', timeout: LIVE_MS });
  assert.deepEqual(await order(), ['alice', 'bea', 'bob', 'root']);
  await page.waitForFunction(() => !document.querySelector('#toasts .toast'), null, { timeout: 8000 });
  await shot(page, 'admin-users-live-desktop');

  // Under a search, only matching sign-ups appear.
  await page.fill('.admin-search', 'ali');
  await page.waitForFunction(() => document.querySelectorAll('[data-admin=users] .user-row').length === 1);
  const zed = await apiSignup(server.url, 'zed', 'a calm river 42');
  await apiSignup(server.url, 'alix', 'a calm river 42', { display_name: 'Alix Roy' });
  await page.locator('.user-row[data-username=alix]').waitFor({ timeout: LIVE_MS });
  assert.deepEqual(await order(), ['alice', 'alix'], 'zed (followed before alix) is left out');
  // The last row of a list going leaves the empty list's line.
  await page.fill('.admin-search', 'zed');
  await page.locator('.user-row[data-username=zed]').waitFor();
  assert.equal((await rest(server.url, 'DELETE', `/admin/users/${zed.user.id}`, undefined, root)).status, 204);
  await page.waitForSelector('[data-admin=users] .list-empty:text("No account matches that search.")', { timeout: LIVE_MS });

  // Bob's own page: made an administrator elsewhere, it says so; deleted elsewhere, it says
  // the account is gone.
  await page.fill('.admin-search', 'bob');
  await page.click('.user-row[data-username=bob]');
  await page.waitForSelector('[data-admin=user][data-username=bob][data-role=user]');
  await put(`/admin/users/${bob.user.id}/role`, { role: 'admin' });
  await page.waitForSelector('[data-admin=user][data-username=bob][data-role=admin] [data-tag=admin]', { timeout: LIVE_MS });
  assert.equal((await rest(server.url, 'DELETE', `/admin/users/${bob.user.id}`, undefined, root)).status, 204);
  await page.waitForSelector('.admin-main :text("That account no longer exists.")', { timeout: LIVE_MS });
  assertClean(page);
}));

test('long lists page with "load more": conversation history and the audit log', () => withAdminServer(async ({ server, browser }) => {
    // Sign-ups hash passwords at full cost (about 2 s each here), so this test keeps to two
    // people; paging through many users is covered over HTTP in tests/http_admin.rs.
    const ann = await apiSignup(server.url, 'ann');
    const ben = await apiSignup(server.url, 'ben');
    const direct = (await rest(server.url, 'POST', '/conversations/direct', { user: ben.user.id }, ann.token)).body;
    for (let i = 1; i <= 30; i++) await say(server, (i % 2 ? ann : ben).token, direct.id, `message number ${i}`, i);
    const root = await adminToken(server);
    for (let i = 0; i < 27; i++) {
      const res = await rest(server.url, 'PUT', `/admin/users/${ben.user.id}/role`, { role: i % 2 ? 'user' : 'admin' }, root);
      assert.equal(res.status, 200);
    }

    const page = await newUserPage(browser, server.url);
    await logIn(page, 'root', ADMIN_PASSWORD);
    await page.goto('/#/admin/users');
    await page.locator('[data-admin=users] .user-row').nth(2).waitFor();
    assert.ok(await page.locator('.admin-more-row').isHidden(), 'one page only: no "load more"');

    // History: the newest 25 first, then the older ones above them, in order.
    await page.goto(`/#/admin/conversations/${direct.id}`);
    const msgs = page.locator('[data-admin=messages] .admin-msg');
    await msgs.nth(24).waitFor();
    assert.equal(await msgs.count(), 25);
    assert.match(await msgs.first().textContent(), /message number 6$/);
    await page.click('button[data-action=load-older]');
    await msgs.nth(29).waitFor();
    const seqs = await msgs.evaluateAll((all) => all.map((m) => Number(m.dataset.seq)));
    assert.deepEqual(seqs, Array.from({ length: 30 }, (_, i) => i + 1));
    await page.locator('button[data-action=load-older]').waitFor({ state: 'hidden' });

    // The audit log: 25, then the last 2, then no more button.
    await page.goto('/#/admin/audit');
    const entries = page.locator('[data-admin=audit] .audit-row');
    await entries.nth(24).waitFor();
    assert.equal(await entries.count(), 25);
    await page.click('button[data-action=load-more]');
    await entries.nth(26).waitFor();
    assert.equal(await entries.count(), 27);
    await page.locator('.admin-more-row').waitFor({ state: 'hidden' });
    const details = await entries.evaluateAll((all) => all.map((e) => e.textContent.includes('→ admin')));
    assert.deepEqual(details, Array.from({ length: 27 }, (_, i) => i % 2 === 0), 'newest first, no repeats');
    assertClean(page);
}));

test('a regular user has no admin link and gets "Not allowed" at #/admin', () => withServer(async ({ server, browser }) => {
  const page = await newUserPage(browser, server.url);
  await signUp(page, { username: uniqueName('user') });
  assert.equal(await page.locator('a[data-action=admin]').count(), 0);
  await page.goto('/#/admin/users');
  await page.waitForSelector('[data-admin=denied] h2:text("Not allowed")');
  assert.equal(await page.locator('[data-admin=users]').count(), 0);
  await shot(page, 'admin-denied-desktop');
  await page.click('[data-admin=denied] a.btn');
  await page.waitForSelector('.shell');
  assertClean(page);
}));
