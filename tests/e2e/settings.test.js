// The settings page (#/settings/profile, security, email, notifications), reached from the user
// menu in the sidebar's header: one tab bar for all four, a tablist the arrow keys walk; the
// e-mail tab says when the server has no mail; a new name and status show in the sidebar here and live on another
// user's screen; an avatar upload is previewed, saved (and shown instead of the initials in
// the sidebar, the other user's list and the chat header), refused with a sentence when it is
// no picture, and removed; a wrong current password is refused, a right one changes it and
// logs the other device out; another device's session is ended from the list; the account is
// deleted with its password. Screenshots at desktop and phone widths.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { apiSignup, assertClean, logIn, newUserPage, rest, shot, withServer } from './harness.js';

const PHONE = { width: 390, height: 844 };
const LIVE_MS = 5000;
/** Password checks run argon2 at its full cost in the server under test: slower. */
const HASH_MS = 20_000;

/** Waits until the text of `selector` matches `re` (an error line filled in by an answer). */
async function textMatching(page, selector, re, timeout = LIVE_MS) {
  await page.waitForFunction(([sel, source]) => new RegExp(source).test(document.querySelector(sel)?.textContent || ''), [selector, re.source], { timeout });
}

/** A small PNG (a 2×2 green square), made by the browser itself, as a file for the input. */
async function pngFile(page) {
  const base64 = await page.evaluate(() => {
    const canvas = document.createElement('canvas');
    canvas.width = 120;
    canvas.height = 80;
    const ctx = canvas.getContext('2d');
    ctx.fillStyle = '#1a9a5a';
    ctx.fillRect(0, 0, 120, 80);
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(50, 30, 20, 20);
    return canvas.toDataURL('image/png').split(',')[1];
  });
  return { name: 'me.png', mimeType: 'image/png', buffer: Buffer.from(base64, 'base64') };
}

test('profile: name, status and avatar from the settings page, seen live by others', () => withServer(async ({ server, browser }) => {
  const alice = await apiSignup(server.url, 'alice');
  const bob = await apiSignup(server.url, 'bob');
  const page = await newUserPage(browser, server.url);
  await logIn(page, 'alice');
  const other = await newUserPage(browser, server.url);
  await logIn(other, 'bob');

  await page.click('[data-action=settings]');
  await page.waitForSelector('[data-settings=profile]');
  assert.equal(await page.locator('[role=tab][aria-selected=true]').textContent(), 'Profile');
  await page.fill('#display_name', 'Alice Liddell');
  await page.fill('#status', '🐇 late for tea');
  await page.click('[data-action=save-profile]');
  await page.waitForSelector('#toasts >> text=Profile saved.');
  // Bob's list says it, live.
  await other.locator('.item[data-username=alice] [data-status]').filter({ hasText: '🐇 late for tea' }).waitFor({ timeout: LIVE_MS });

  // Too long a status: refused here with a sentence, nothing sent.
  await page.fill('#status', 'x'.repeat(101));
  await page.click('[data-action=save-profile]');
  assert.match(await page.locator('[data-error-for=status]').textContent(), /at most 100/);
  await page.fill('#status', '🐇 late for tea');

  // Not a picture: the server's refusal as a sentence.
  await page.setInputFiles('#avatar-file', { name: 'notes.png', mimeType: 'image/png', buffer: Buffer.from('just text') });
  // The preview is shown once the file is read, which the page does after the change event.
  await page.waitForSelector('[data-avatar-preview=chosen]');
  await page.click('[data-action=save-avatar]');
  await textMatching(page, '[data-error-for=avatar]', /not a picture/);
  await page.click('[data-action=cancel-avatar]');

  // A picture: previewed, then saved and shown instead of the initials.
  await page.setInputFiles('#avatar-file', await pngFile(page));
  await page.locator('[data-avatar-preview=chosen] img').waitFor();
  await shot(page, 'settings-profile-preview-desktop');
  await page.click('[data-action=save-avatar]');
  await page.locator('[data-avatar-preview=picture] img').waitFor();
  const loaded = await page.locator('[data-avatar-preview=picture] img').evaluate((img) => img.decode().then(() => img.naturalWidth));
  assert.equal(loaded, 80, 'cut to its 80 px square');
  await shot(page, 'settings-profile-desktop');
  await other.locator('.item[data-username=alice] .avatar img').waitFor({ timeout: LIVE_MS });

  // The chat header shows it too (Bob's side).
  const opened = await rest(server.url, 'POST', '/conversations/direct', { user: alice.user.id }, bob.token);
  assert.equal(opened.status, 200);
  await other.goto(`${server.url}/#/c/${opened.body.id}`);
  await other.locator('.chat-head .avatar img, .chat .avatar img').first().waitFor({ timeout: LIVE_MS });
  await shot(other, 'settings-others-see-avatar-and-status-desktop');

  // Back to the chat: the sidebar's header shows the picture, name and status.
  await page.click('[data-action=back-to-chat]');
  await page.locator('.side-me-link .avatar img').waitFor();
  assert.equal(await page.locator('[data-my-status]').textContent(), '🐇 late for tea');
  assert.equal(await page.locator('.side-name').textContent(), 'Alice Liddell');

  // Removed: initials again.
  await page.goto(`${server.url}/#/settings/profile`);
  await page.click('[data-action=remove-avatar]');
  await page.waitForSelector('[data-avatar-preview=initials]');
  assert.equal(await page.locator('[data-avatar-preview] img').count(), 0);

  // Phone width.
  const phone = await newUserPage(browser, server.url, PHONE);
  await logIn(phone, 'alice');
  await phone.goto(`${server.url}/#/settings/profile`);
  await phone.waitForSelector('[data-settings=profile]');
  await shot(phone, 'settings-profile-phone');
  assertClean(page, other, phone);
}));

test('security: password, sessions, deleting the account', () => withServer(async ({ server, browser }) => {
  await apiSignup(server.url, 'alice');
  const page = await newUserPage(browser, server.url);
  await logIn(page, 'alice');
  const laptop = await newUserPage(browser, server.url);
  await logIn(laptop, 'alice');

  await page.goto(`${server.url}/#/settings/security`);
  await page.waitForSelector('[data-settings=security]');
  await page.locator('[data-list=sessions] [data-session]').nth(1).waitFor();
  assert.equal(await page.locator('[data-session][data-current=true]').count(), 1);
  await shot(page, 'settings-security-desktop');

  // A wrong current password.
  await page.fill('#current-password', 'not my password');
  await page.fill('#new-password', 'a brand new stream 7');
  await page.click('[data-action=change-password]');
  await textMatching(page, '[data-error-for=current-password]', /not your current password/, HASH_MS);

  // The right one, ending the other device.
  await page.fill('#current-password', 'a calm river 42');
  await page.click('[data-action=change-password]');
  await page.waitForSelector('#toasts >> text=/Password changed. 2 other devices logged out/', { timeout: HASH_MS * 2 });
  await laptop.waitForSelector('form[data-form=login]', { timeout: LIVE_MS });
  assert.match(await laptop.locator('.form-notice, .notice, [role=status]').first().textContent(), /password was changed/);
  await page.waitForFunction(() => document.querySelectorAll('[data-list=sessions] [data-session]').length === 1);

  // Ending another device from the list.
  const phone = await newUserPage(browser, server.url, PHONE);
  await logIn(phone, 'alice', 'a brand new stream 7');
  await page.reload();
  await page.locator('[data-session][data-current=false] [data-action=end-session]').waitFor();
  await page.click('[data-session][data-current=false] [data-action=end-session]');
  await phone.waitForSelector('form[data-form=login]', { timeout: LIVE_MS });
  await shot(phone, 'settings-ended-phone');
  await logIn(phone, 'alice', 'a brand new stream 7');
  await phone.goto(`${server.url}/#/settings/security`);
  await phone.locator('[data-list=sessions] [data-session]').first().waitFor();
  await shot(phone, 'settings-security-phone');

  // Deleting the account: the wrong password first.
  await page.fill('#delete-password', 'nope nope nope');
  await page.click('[data-action=delete-account]');
  await page.click('dialog [data-action=confirm]');
  await textMatching(page, '[data-error-for=delete-password]', /not your current password/, HASH_MS);
  await page.fill('#delete-password', 'a brand new stream 7');
  await page.click('[data-action=delete-account]');
  await page.click('dialog [data-action=confirm]');
  await page.waitForSelector('form[data-form=login]', { timeout: HASH_MS });
  const login = await rest(server.url, 'POST', '/auth/login', { username: 'alice', password: 'a brand new stream 7' });
  assert.equal(login.status, 401);
  assertClean(page, laptop, phone);
}));

test('tabs: one bar for profile, security, e-mail and notifications; arrow keys; no mail said', () => withServer(async ({ server, browser }) => {
  await apiSignup(server.url, 'alice');
  for (const [width, viewport] of [['desktop', undefined], ['phone', PHONE]]) {
    const page = await newUserPage(browser, server.url, viewport);
    await logIn(page, 'alice');
    // The bell in the sidebar opens the notifications tab, in the same page as the others.
    await page.click('[data-action=notification-settings]');
    await page.waitForSelector('#settings-main[data-settings=notifications] [data-setting=dnd]');
    const tabs = page.locator('[role=tablist] [role=tab]');
    assert.deepEqual(await tabs.allTextContents(), ['Profile', 'Security', 'E-mail', 'Notifications']);
    assert.equal(await page.getAttribute('[role=tab][aria-selected=true]', 'data-tab'), 'notifications');
    assert.equal(await page.getAttribute('#settings-main', 'aria-labelledby'), 'settings-tab-notifications');
    assert.deepEqual(await tabs.evaluateAll((els) => els.map((e) => e.tabIndex)), [-1, -1, -1, 0], 'only the selected tab is in the Tab order');
    await shot(page, `settings-notifications-${width}`);

    // Keyboard: Right wraps to the first tab, Left comes back, End and Home jump; the focus
    // stays on the selected tab, so the keys go on working.
    await page.focus('[role=tab][aria-selected=true]');
    const walk = [['ArrowRight', 'profile'], ['ArrowRight', 'security'], ['ArrowLeft', 'profile'], ['End', 'notifications'], ['ArrowLeft', 'email'], ['Home', 'profile']];
    for (const [key, expected] of walk) {
      await page.keyboard.press(key);
      await page.waitForSelector(`#settings-main[data-settings=${expected}]`);
      assert.equal(await page.evaluate(() => location.hash), `#/settings/${expected}`);
      assert.equal(await page.evaluate(() => document.activeElement.getAttribute('data-tab')), expected, `focus after ${key}`);
      assert.equal(await page.getAttribute('[role=tab][aria-selected=true]', 'data-tab'), expected);
    }

    // The e-mail tab on a server without mail: it says so, and offers no digests.
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    await page.waitForSelector('#settings-main[data-settings=email] [data-mail=off]');
    assert.match(await page.locator('.notice[data-mail=off]').textContent(), /not configured on this server/);
    assert.equal(await page.locator('[data-section=digests]').count(), 0);
    assert.equal(await page.locator('[data-email-status=none]').count(), 1);
    await shot(page, `settings-email-no-mail-${width}`);
    assertClean(page);
  }
}));
