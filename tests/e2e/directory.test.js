// The people list follows accounts live, through the `user` and `user_deleted` frames: someone
// who signs up appears in an open page within seconds (not at the next 60 s re-read), and
// their presence is followed from then on; an account an administrator disables leaves the
// list, and comes back when enabled; a deleted account leaves it too, and a conversation open
// with it keeps working, under "Deleted account". Online people are listed first, and a user
// made an administrator gets the admin link at once (and loses it when made a user again).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  apiSignup, assertClean, bubbles, createAdmin, logIn, newUserPage, openChatWith, rest, sendText, shot,
  signUp, waitConnected, withServer,
} from './harness.js';

const ADMIN_PASSWORD = 'the admin password 7';
/** Well under the web app's 60 s re-read of the user list, well over a frame's delivery. */
const LIVE_MS = 5000;

/** The people list entry (someone I have no conversation with yet) for `username`. */
function person(page, username) {
  return page.locator(`.list button.item[data-username="${username}"]`);
}

/** Sets an account's disabled flag as the administrator; asserts it worked. */
async function setDisabled(server, token, user, disabled) {
  const res = await rest(server.url, 'PUT', `/admin/users/${user.id}/disabled`, { disabled }, token);
  assert.equal(res.status, 200, JSON.stringify(res.body));
}

test('the people list follows sign-ups (with their presence), disabling, enabling and deletion without a reload', () => withServer(async ({ server, browser }) => {
  const root = await rest(server.url, 'POST', '/auth/login', { username: 'root', password: ADMIN_PASSWORD });
  assert.equal(root.status, 200);
  const adminToken = root.body.token;

  // Alice is signed in, looking at the list: only the administrator is there.
  const alice = await newUserPage(browser, server.url);
  await signUp(alice, { username: 'alice', displayName: 'Alice Martin' });
  await person(alice, 'root').waitFor();
  assert.equal(await alice.locator('.list button.item').count(), 1);

  // Bob signs up through the API: he is listed at once, offline (no device yet)...
  const bob = await apiSignup(server.url, 'bob', 'a calm river 42', { display_name: 'Bob Stone' });
  await person(alice, 'bob').waitFor({ timeout: LIVE_MS });
  assert.equal(await person(alice, 'bob').locator('[data-presence]').getAttribute('data-presence'), 'offline');

  // ...and shows online as soon as his page is connected: his presence is being followed.
  const bobPage = await newUserPage(browser, server.url);
  await logIn(bobPage, 'bob');
  await person(alice, 'bob').locator('[data-presence=online]').waitFor({ timeout: LIVE_MS });

  // Carol signs up in her own browser: listed, and online straight away.
  const carolPage = await newUserPage(browser, server.url);
  await signUp(carolPage, { username: 'carol' });
  await person(alice, 'carol').locator('[data-presence=online]').waitFor({ timeout: LIVE_MS });

  // Abby signs up but has no device yet: listed after everyone online, though first by name.
  await apiSignup(server.url, 'abby', 'a quiet lake 17');
  await person(alice, 'abby').waitFor({ timeout: LIVE_MS });
  const order = await alice.locator('.list button.item[data-username]').evaluateAll((items) => items.map((i) => i.dataset.username));
  assert.deepEqual(order, ['bob', 'carol', 'abby', 'root']);
  await alice.waitForFunction(() => !document.querySelector('#toasts .toast'), null, { timeout: 8000 });
  await shot(alice, 'directory-people-desktop');

  // The administrator disables Bob: he leaves Alice's list (and his page goes back to log-in);
  // enabled again, he is back.
  await setDisabled(server, adminToken, bob.user, true);
  await person(alice, 'bob').waitFor({ state: 'detached', timeout: LIVE_MS });
  await bobPage.waitForSelector('form[data-form=login]', { timeout: LIVE_MS });
  await setDisabled(server, adminToken, bob.user, false);
  await person(alice, 'bob').waitFor({ timeout: LIVE_MS });

  // Alice is made an administrator: the admin link appears on her page, and goes when she is
  // made a user again.
  const aliceId = (await rest(server.url, 'GET', '/users?search=alice', undefined, adminToken)).body.users[0].id;
  const setRole = async (role) => {
    const res = await rest(server.url, 'PUT', `/admin/users/${aliceId}/role`, { role }, adminToken);
    assert.equal(res.status, 200, JSON.stringify(res.body));
  };
  assert.equal(await alice.locator('[data-action=admin]').count(), 0);
  await setRole('admin');
  await alice.locator('[data-action=admin]').waitFor({ timeout: LIVE_MS });
  await setRole('user');
  await alice.locator('[data-action=admin]').waitFor({ state: 'detached', timeout: LIVE_MS });

  // Alice talks with Carol, and Carol's account is deleted while the conversation is open: the
  // history stays, the page keeps working, and the conversation reads "Deleted account".
  const carolId = await person(alice, 'carol').getAttribute('data-user');
  await openChatWith(alice, 'carol');
  await sendText(alice, 'Welcome, Carol!');
  await alice.locator('.msg.mine[data-status=delivered], .msg.mine[data-status=read]').first().waitFor();
  assert.equal(await alice.locator('.chat .chat-title').textContent(), 'carol');
  assert.equal((await rest(server.url, 'DELETE', `/admin/users/${carolId}`, undefined, adminToken)).status, 204);
  await alice.waitForFunction(() => document.querySelector('.chat .chat-title').textContent === 'Deleted account', null, { timeout: LIVE_MS });
  // Her socket closing afterwards announces her offline (within a second here): the header
  // still says what happened, not a last-seen time.
  await carolPage.waitForSelector('form[data-form=login]', { timeout: LIVE_MS });
  await alice.waitForTimeout(1000);
  assert.equal(await alice.locator('.chat .chat-sub').textContent(), 'account deleted');
  await alice.locator('.list .item[data-kind=direct][data-username="carol"]').waitFor({ state: 'detached', timeout: LIVE_MS });
  assert.equal(await bubbles(alice, 'Welcome, Carol!').count(), 1);
  // Nobody would read a reply: the composer gives way to a note saying so.
  assert.equal(await alice.locator('.chat form.composer').isVisible(), false);
  assert.match(await alice.locator('[data-composer-closed]').textContent(), /account was deleted/);
  await shot(alice, 'directory-deleted-account-desktop');

  // Deleting Bob, whom Alice has not talked to, takes him off the list.
  assert.equal((await rest(server.url, 'DELETE', `/admin/users/${bob.user.id}`, undefined, adminToken)).status, 204);
  await person(alice, 'bob').waitFor({ state: 'detached', timeout: LIVE_MS });
  await person(alice, 'root').waitFor();
  assertClean(alice, bobPage, carolPage);
}, { prepare: (dataDir) => createAdmin(dataDir, 'root', ADMIN_PASSWORD) }));

test('resume cursors go in parts under the server\'s frame limit, the last without "more"', () => withServer(async ({ server, browser }) => {
  const page = await newUserPage(browser, server.url);
  await page.goto('/');
  const { frames, none } = await page.evaluate(async () => {
    const { resumeFrames } = await import('/socket.js');
    const cursors = Array.from({ length: 1000 }, (_, seq) => ({ conversation: crypto.randomUUID(), seq: 1_000_000 + seq }));
    const sent = resumeFrames(cursors);
    const all = sent.flatMap((f) => f.cursors);
    return {
      none: resumeFrames([]),
      frames: sent.map((f) => ({ more: f.more === true, count: f.cursors.length, bytes: JSON.stringify({ v: 1, ...f, ref: 'r99999' }).length, same: all.length === cursors.length && all.every((c, i) => c.conversation === cursors[i].conversation && c.seq === cursors[i].seq) })),
    };
  });
  assert.deepEqual(frames.map((f) => [f.more, f.count]), [[true, 300], [true, 300], [true, 300], [false, 100]]);
  for (const f of frames) assert.ok(f.bytes < 32 * 1024, `a frame of ${f.bytes} bytes`);
  assert.ok(frames.every((f) => f.same), 'every cursor once, in order');
  assert.deepEqual(none, [{ type: 'resume', cursors: [] }], 'no cursors: one frame, which ends the hold');
  assertClean(page);
}));

test('a watch list of 1000 users goes in frames under the server\'s frame limit', () => withServer(async ({ server, browser }) => {
  const page = await newUserPage(browser, server.url);
  await page.goto('/');
  const { limit, frames } = await page.evaluate(async () => {
    const { watchFrames } = await import('/socket.js');
    const ids = Array.from({ length: 1000 }, () => crypto.randomUUID());
    const sent = watchFrames(ids);
    const all = sent.flatMap((f) => f.users);
    return {
      limit: 32 * 1024,
      frames: sent.map((f) => ({ add: Boolean(f.add), count: f.users.length, bytes: JSON.stringify({ v: 1, ...f, ref: 'r99999' }).length, same: all.length === ids.length && all.every((id, i) => id === ids[i]) })),
    };
  });
  assert.deepEqual(frames.map((f) => [f.add, f.count]), [[false, 500], [true, 500]], 'the first frame replaces, the next adds');
  for (const f of frames) assert.ok(f.bytes < limit, `a frame of ${f.bytes} bytes`);
  assert.ok(frames.every((f) => f.same), 'every id once, in order');
  assertClean(page);
}));

test('looking someone up leaves no trace on their side: the conversation shows there with its first message', () => withServer(async ({ server, browser }) => {
  await apiSignup(server.url, 'alice');
  await apiSignup(server.url, 'bob');
  const alice = await newUserPage(browser, server.url);
  await logIn(alice, 'alice');
  await person(alice, 'bob').waitFor();
  const bob = await newUserPage(browser, server.url);
  await logIn(bob, 'bob');

  // Bob clicks Alice's name: his conversation opens, and nothing changes on her side, live or
  // after a reload (she still sees him as a person, not a conversation "No messages yet").
  await openChatWith(bob, 'alice');
  await bob.locator('.list .item[data-conversation]').first().waitFor();
  await alice.waitForTimeout(1500);
  assert.equal(await alice.locator('.list .item[data-conversation]').count(), 0, 'no conversation in her list');
  await person(alice, 'bob').waitFor();
  await alice.reload();
  await waitConnected(alice);
  await person(alice, 'bob').waitFor();
  assert.equal(await alice.locator('.list .item[data-conversation]').count(), 0, 'nor after a reload');
  await shot(alice, 'directory-looked-up-nothing-shows-desktop');

  // His first message brings it to her list at once.
  await sendText(bob, 'hi alice');
  await alice.locator('.list .item[data-conversation]', { hasText: 'hi alice' }).waitFor({ timeout: LIVE_MS });
  assert.equal(await alice.locator('.list .item[data-conversation]').count(), 1);
  assertClean(alice);
  assertClean(bob);
}));
