// Two people in two browser contexts: sign up, find each other, presence, live chat both ways,
// typing, read marks, reload, log out.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  assertClean, bubbles, newUserPage, openChatWith, rest, sendText, shot, signUp, uniqueName, waitConnected, withServer,
} from './harness.js';

test('two users sign up, see each other online, chat live both ways with typing and read marks, reload, log out', () => withServer(async ({ server, browser }) => {
  const alice = await newUserPage(browser, server.url);
  const bob = await newUserPage(browser, server.url);
  const a = uniqueName('alice');
  const b = uniqueName('bob');
  await signUp(alice, { username: a, displayName: 'Alice Martin' });
  await signUp(bob, { username: b });

  // Alice finds Bob (who signed up after her list loaded) with the filter box: online.
  await alice.fill('.side-search .filter', b);
  const bobItem = alice.locator(`.list .item[data-username="${b}"]`);
  await bobItem.waitFor();
  await alice.locator(`.list .item[data-username="${b}"] .dot-on`).waitFor();
  await alice.fill('.side-search .filter', '');
  await openChatWith(alice, b);
  await alice.waitForSelector('.chat-sub[data-chat-status=online]');

  // Alice writes; Bob sees it live (no reload) with an unread badge, then opens it.
  await sendText(alice, 'Hi Bob!');
  await bubbles(alice, 'Hi Bob!').waitFor();
  const convItem = bob.locator(`.list .item[data-kind=direct][data-username="${a}"]`);
  await convItem.waitFor();
  await bob.locator(`.list .item[data-username="${a}"] .badge[data-unread="1"]`).waitFor();
  await alice.locator('.msg.mine[data-status=delivered], .msg.mine[data-status=read]').first().waitFor();
  await convItem.click();
  await bubbles(bob, 'Hi Bob!').waitFor();
  assert.equal(await bob.locator('.msg.theirs .msg-body').count(), 1);
  await bob.waitForSelector('.chat-title:text("Alice Martin")');

  // Alice sees the read mark once Bob has the conversation open.
  await alice.locator('.msg.mine[data-status=read]').waitFor();
  assert.equal(await alice.locator('.msg.mine[data-status=read] .msg-status').textContent(), '✓✓');

  // Bob types: Alice sees the typing indicator; then the reply arrives live.
  await bob.locator('.composer-input').pressSequentially('Hello Al', { delay: 20 });
  await alice.waitForSelector('.chat-sub[data-chat-status=typing]');
  await alice.waitForSelector('.typing-row.on');
  await bob.fill('.composer-input', 'Hello Alice, nice to meet you.');
  await bob.press('.composer-input', 'Enter');
  await bubbles(alice, 'Hello Alice, nice to meet you.').waitFor();
  await alice.waitForSelector('.chat-sub[data-chat-status=online]');
  await bob.locator('.msg.mine[data-status=read]').waitFor();

  // Both pages reload: the conversation is still there, in order, and the socket comes back.
  await alice.reload();
  await waitConnected(alice);
  await alice.locator(`.list .item[data-kind=direct][data-username="${b}"]`).click();
  await bubbles(alice, 'Hello Alice, nice to meet you.').waitFor();
  const texts = await alice.locator('.messages .msg .msg-body').allTextContents();
  assert.deepEqual(texts, ['Hi Bob!', 'Hello Alice, nice to meet you.']);
  await shot(alice, 'chat-desktop-alice');

  // Bob (after a reload, so the CSRF token comes from the cookie) logs out: Alice sees him go
  // offline with a "last seen", and Bob's session is over on the server too.
  await bob.reload();
  await waitConnected(bob);
  await bob.click('button[data-action=logout]');
  await bob.waitForSelector('form[data-form=login]');
  await bob.reload();
  await bob.waitForSelector('form[data-form=login]');
  await alice.waitForSelector('.chat-sub[data-chat-status=offline]', { timeout: 15_000 });
  assert.match(await alice.locator('.chat-sub').textContent(), /last seen/);

  assertClean(alice, bob);
}));

test('a session ended elsewhere (log out everywhere) sends the page back to log-in with a notice', () => withServer(async ({ server, browser }) => {
  const page = await newUserPage(browser, server.url);
  const name = uniqueName('dora');
  await signUp(page, { username: name });
  const other = await rest(server.url, 'POST', '/auth/login', { username: name, password: 'a calm river 42' });
  assert.equal(other.status, 200);
  const res = await rest(server.url, 'POST', '/auth/logout-all', {}, other.body.token);
  assert.equal(res.status, 200);
  await page.waitForSelector('form[data-form=login] .notice:text("You were logged out")');
  // And it stays logged out after a reload (the cookie session is gone on the server).
  await page.reload();
  await page.waitForSelector('form[data-form=login]');
  assertClean(page);
}));
