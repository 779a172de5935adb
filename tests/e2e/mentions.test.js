// Mentions (issue 22) in a real browser: `@` in the composer lists the conversation's members
// (me left out), filtered as I type, picked with the keyboard; Esc closes the list without
// cancelling a reply; the mentioned member's sidebar shows an "@" badge, live and after a
// reload, cleared on reading; the message is highlighted for them and the name styled (as
// text: markup next to an @ stays text). Screenshots at desktop and phone widths.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { apiSignup, assertClean, bubbles, logIn, newUserPage, rest, sendText, shot, withServer } from './harness.js';
import { findMentions, mentionQuery } from '../../kanect-http/web/mentions.js';

const PHONE = { width: 390, height: 844 };

/** The usernames the open mention list shows, in order, and the active one. */
function listed(page) {
  return page.evaluate(() => {
    const list = document.querySelector('[data-mention-list]');
    if (!list || list.hidden) return null;
    const options = [...list.querySelectorAll('[role=option]')];
    return { names: options.map((o) => o.dataset.username), active: options.find((o) => o.getAttribute('aria-selected') === 'true')?.dataset.username };
  });
}

test('names are found where the server reads them; the name before the caret is completed', () => {
  const names = new Set(['bob', 'carol', 'dan.o']);
  const found = (text) => findMentions(text, names).map(({ start, end, name }) => [text.slice(start, end), name]);
  assert.deepEqual(found('@Bob and @carol, also @bob'), [['@Bob', 'Bob'], ['@carol', 'carol'], ['@bob', 'bob']]);
  assert.deepEqual(found('thanks @bob. (@carol-) @dan.o.'), [['@bob', 'bob'], ['@carol', 'carol'], ['@dan.o', 'dan.o']], 'a trailing . or - is punctuation');
  assert.deepEqual(found('mail bob@example.com or x@bob'), [], 'inside a word: an address');
  assert.deepEqual(found('@@bob @ bob @dave @bo'), [], 'no name, or not a member');
  assert.deepEqual(found('é@bob **@carol**'), [['@bob', 'bob'], ['@carol', 'carol']]);
  assert.deepEqual(findMentions('@bob', new Set()), []);
  assert.deepEqual(mentionQuery('hi @bo', 6), { start: 3, query: 'bo' });
  assert.deepEqual(mentionQuery('@', 1), { start: 0, query: '' });
  assert.equal(mentionQuery('ann@ex', 6), null, 'an address');
  assert.equal(mentionQuery('hi @bo x', 8), null, 'past the name');
  assert.equal(mentionQuery(`@${'a'.repeat(33)}`, 34), null, 'longer than a username');
});

test('@ completes members; the mentioned member gets a badge, live and after a reload, and a highlight', () => withServer(async ({ server, browser }) => {
  const alice = await apiSignup(server.url, 'alice', 'a calm river 42', { display_name: 'Alice Martin' });
  const bob = await apiSignup(server.url, 'bob', 'a calm river 42', { display_name: 'Bob Stone' });
  const carol = await apiSignup(server.url, 'carol', 'a calm river 42', { display_name: 'Carol Diaz' });
  await apiSignup(server.url, 'dave', 'a calm river 42');
  const group = (await rest(server.url, 'POST', '/conversations', { name: 'Trail crew', members: [bob.user.id, carol.user.id] }, alice.token)).body;
  const first = await rest(server.url, 'POST', `/conversations/${group.id}/messages`, { client_id: 'm-1', body: 'Trip on Saturday, who is in?' }, alice.token);
  assert.equal(first.status, 200);

  const page = await newUserPage(browser, server.url);
  const bobPage = await newUserPage(browser, server.url);
  const carolPage = await newUserPage(browser, server.url, PHONE);
  await logIn(page, 'alice');
  await logIn(bobPage, 'bob');
  await logIn(carolPage, 'carol');
  await page.goto(`/#/c/${group.id}`);
  await bubbles(page, 'Trip on Saturday, who is in?').waitFor();
  const item = bobPage.locator(`.list .item[data-conversation="${group.id}"]`);
  await item.waitFor();
  // Bob has read it: no unread count, no mention.
  await item.click();
  await bubbles(bobPage, 'Trip on Saturday, who is in?').waitFor();
  await bobPage.goto('/#/');
  await bobPage.waitForSelector('.welcome');
  assert.equal(await item.locator('.badge').count(), 0);

  // "@": every member but me, by username; "b" (of a username or a name) narrows it.
  await page.click('.composer-input');
  await page.keyboard.type('Hey @');
  assert.deepEqual(await listed(page), { names: ['bob', 'carol'], active: 'bob' });
  assert.equal(await page.getAttribute('.composer-input', 'aria-expanded'), 'true');
  await page.keyboard.type('d');
  assert.deepEqual(await listed(page), { names: ['carol'], active: 'carol' }, '"d" matches Carol Diaz');
  await page.keyboard.press('Backspace');
  await page.keyboard.press('ArrowDown');
  assert.equal((await listed(page)).active, 'carol');
  await page.keyboard.press('ArrowDown');
  assert.equal((await listed(page)).active, 'bob', '↓ wraps around');
  await page.keyboard.type('b');
  assert.deepEqual(await listed(page), { names: ['bob'], active: 'bob' });
  await shot(page, 'mentions-list-desktop');
  // Enter picks (and sends nothing).
  await page.keyboard.press('Enter');
  assert.equal(await page.inputValue('.composer-input'), 'Hey @bob ');
  assert.equal(await listed(page), null);
  // Tab picks too.
  await page.keyboard.type('and @c');
  await page.keyboard.press('Tab');
  assert.equal(await page.inputValue('.composer-input'), 'Hey @bob and @carol ');
  await page.keyboard.type('can you bring the map? Not @dave, he is not in the group.');
  await page.keyboard.press('Enter');
  const body = 'Hey @bob and @carol can you bring the map? Not @dave, he is not in the group.';
  await bubbles(page, body).waitFor();

  // Bob, not reading the group: an "@" beside the unread count, live.
  await item.locator('.badge-mention').waitFor();
  assert.equal(await item.locator('.badge-mention').textContent(), '@');
  assert.equal(await item.locator('.badge-mention').getAttribute('data-unread-mentions'), '1');
  assert.equal(await item.locator('[data-unread]').getAttribute('data-unread'), '1');
  await shot(bobPage, 'mentions-badge-desktop');
  // A message that names nobody adds to the unread count only.
  await rest(server.url, 'POST', `/conversations/${group.id}/messages`, { client_id: 'm-3', body: 'Leaving at 8.' }, carol.token);
  await item.locator('[data-unread="2"]').waitFor();
  assert.equal(await item.locator('.badge-mention').getAttribute('data-unread-mentions'), '1');
  // After a reload, from the server's unread_mentions.
  await bobPage.reload();
  await item.locator('.badge-mention').waitFor();

  // Reading it: highlighted for bob, the name styled; the badge goes.
  await item.click();
  const row = bobPage.locator('.msg', { has: bobPage.locator('.msg-body', { hasText: 'can you bring the map?' }) });
  await row.waitFor();
  assert.equal(await row.evaluate((el) => el.classList.contains('mentions-me')), true);
  const spans = await row.locator('.msg-body .mention').evaluateAll((els) => els.map((e) => [e.textContent, e.className]));
  assert.deepEqual(spans, [['@bob', 'mention mention-me'], ['@carol', 'mention']], '@dave (not a member) stays plain');
  await item.locator('.badge-mention').waitFor({ state: 'detached' });
  await shot(bobPage, 'mentions-highlight-desktop');
  await bobPage.emulateMedia({ colorScheme: 'dark' });
  await shot(bobPage, 'mentions-highlight-desktop-dark');
  await bobPage.emulateMedia({ colorScheme: 'light' });
  // The message that does not mention him is not highlighted.
  const plain = bobPage.locator('.msg', { has: bobPage.locator('.msg-body', { hasText: 'Leaving at 8.' }) });
  assert.equal(await plain.evaluate((el) => el.classList.contains('mentions-me')), false);

  // Carol, on her phone: highlighted and styled for her too.
  await carolPage.locator(`.list .item[data-conversation="${group.id}"] .badge-mention`).waitFor();
  await carolPage.locator(`.list .item[data-conversation="${group.id}"]`).click();
  const carolRow = carolPage.locator('.msg', { has: carolPage.locator('.msg-body', { hasText: 'can you bring the map?' }) });
  await carolRow.waitFor();
  assert.equal(await carolRow.evaluate((el) => el.classList.contains('mentions-me')), true);
  assert.equal(await carolRow.locator('.mention-me').textContent(), '@carol');
  // Her list on the phone, above the composer, inside the screen.
  await carolPage.click('.composer-input');
  await carolPage.keyboard.type('@');
  assert.deepEqual((await listed(carolPage)).names, ['alice', 'bob']);
  const box = await carolPage.locator('[data-mention-list]').boundingBox();
  assert.ok(box.x >= 0 && box.x + box.width <= PHONE.width && box.y >= 0, `the list fits the phone: ${JSON.stringify(box)}`);
  await shot(carolPage, 'mentions-list-phone');
  await carolPage.keyboard.press('Escape');
  assert.equal(await listed(carolPage), null);
  await carolPage.fill('.composer-input', '');
  await shot(carolPage, 'mentions-highlight-phone');
  assertClean(page, bobPage, carolPage);
}));

test('Esc closes the mention list without cancelling a reply; markup next to an @ stays text', () => withServer(async ({ server, browser }) => {
  const alice = await apiSignup(server.url, 'alice');
  const bob = await apiSignup(server.url, 'bob');
  const direct = (await rest(server.url, 'POST', '/conversations/direct', { user: alice.user.id }, bob.token)).body;
  await rest(server.url, 'POST', `/conversations/${direct.id}/messages`, { client_id: 'm-1', body: 'Ping me when ready' }, bob.token);
  const page = await newUserPage(browser, server.url);
  const bobPage = await newUserPage(browser, server.url);
  await logIn(page, 'alice');
  await logIn(bobPage, 'bob');
  await page.goto(`/#/c/${direct.id}`);
  await bobPage.goto(`/#/c/${direct.id}`);
  const theirs = page.locator('.msg', { has: page.locator('.msg-body', { hasText: 'Ping me when ready' }) });
  await theirs.hover();
  await theirs.locator('button[data-action=reply]').click();
  await page.keyboard.type('@b');
  assert.deepEqual((await listed(page)).names, ['bob']);
  assert.equal(await page.evaluate(() => document.activeElement?.className), 'composer-input', 'the composer keeps the focus');
  await page.keyboard.press('Escape');
  assert.equal(await listed(page), null);
  assert.equal(await page.locator('[data-reply-bar]').isVisible(), true, 'the reply is still being written');
  // The next Esc cancels the reply.
  await page.keyboard.press('Escape');
  await page.locator('[data-reply-bar]').waitFor({ state: 'hidden' });
  // The list closes when the focus leaves the composer.
  await page.fill('.composer-input', '@b');
  assert.deepEqual((await listed(page)).names, ['bob']);
  await page.click('.chat-title');
  await page.waitForFunction(() => document.querySelector('[data-mention-list]').hidden);
  // Sent with the button while the list is open: the list goes with the text.
  await page.fill('.composer-input', 'ping @b');
  assert.deepEqual((await listed(page)).names, ['bob']);
  await page.click('.send-btn');
  await bubbles(bobPage, 'ping @b').waitFor();
  await page.waitForTimeout(300);
  assert.equal(await listed(page), null, 'no list over the empty composer');

  const XSS = '@<b>x</b> and @bob <img src=x onerror=alert(1)>';
  await page.fill('.composer-input', '');
  await sendText(page, XSS);
  await bubbles(bobPage, XSS).waitFor();
  const row = bobPage.locator('.msg', { has: bobPage.locator('.msg-body', { hasText: '@bob' }) });
  assert.deepEqual(await row.locator('.mention').allTextContents(), ['@bob']);
  assert.equal(await row.locator('.msg-body b, .msg-body img').count(), 0, 'no element from the text');
  assert.equal(await bobPage.locator('#app img').count(), 0);
  assertClean(page, bobPage);
}));
