// The server stops (SIGTERM) in the middle of a conversation and starts again on the same port
// and data directory: both pages reconnect by themselves, catch up with `resume`, resend what
// was pending, and every message shows exactly once.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  apiSignup, assertClean, bubbles, launchBrowser, newUserPage, openChatWith, rest, sendText, shot, signUp, startServer,
  cleanup, uniqueName, waitConnected, withServer,
} from './harness.js';

test('after a server restart both pages reconnect and resume with no gap and no duplicate', async () => {
  let server = await startServer();
  const dataDir = server.dataDir;
  const browser = await launchBrowser();
  try {
    const alice = await newUserPage(browser, server.url);
    const bob = await newUserPage(browser, server.url);
    const a = uniqueName('alice');
    const b = uniqueName('bob');
    await signUp(alice, { username: a });
    await signUp(bob, { username: b });
    await openChatWith(alice, b);
    await sendText(alice, 'before the restart');
    await bob.locator(`.list .item[data-kind=direct][data-username="${a}"]`).click();
    await bubbles(bob, 'before the restart').waitFor();

    // A third party (a program with a bearer token) in a group with both, to send while the pages are away.
    const carol = await apiSignup(server.url, uniqueName('carol'));
    const direct = await rest(server.url, 'POST', '/conversations/direct', { user: (await rest(server.url, 'GET', `/users?search=${b}`, undefined, carol.token)).body.users[0].id }, carol.token);
    assert.equal(direct.status, 200);

    await alice.waitForSelector('.chat-sub[data-chat-status=online]');

    const port = server.port;
    assert.equal(await server.stop(), 0, 'the server exits cleanly on SIGTERM');
    for (const page of [alice, bob]) await page.waitForSelector('.conn[data-connection=reconnecting]', { timeout: 10_000 });
    await alice.locator('.net-banner:not([hidden])').waitFor();
    // With the socket down Bob is not shown as online, in the header or the list: his presence
    // is unknown, or offline if the server told Alice's page that Bob left before it closed her
    // socket (both sockets close at once on shutdown, so either may go first).
    const sub = alice.locator('.chat-sub');
    await alice.waitForSelector('.chat-sub:is([data-chat-status=unknown], [data-chat-status=offline])').catch(async (e) => {
      throw new Error(`Bob's presence still reads "${await sub.getAttribute('data-chat-status')}" ("${await sub.textContent()}") with the server down: ${e.message}`);
    });
    if (await sub.getAttribute('data-chat-status') === 'unknown') assert.equal(await sub.textContent(), 'connecting…');
    else assert.match(await sub.textContent(), /^last seen /);
    await alice.locator(`.list .item[data-username="${b}"] .dot-on`).waitFor({ state: 'detached' });

    // Alice sends while the server is down: it waits as pending.
    await sendText(alice, 'sent while the server was down');
    await alice.locator('.msg.mine[data-status=pending]').waitFor();
    await shot(alice, 'reconnecting-desktop');

    server = await startServer({ dataDir, port });
    // Carol writes to Bob at once, probably before the pages are back: resume must bring it.
    const carolMsg = await rest(server.url, 'POST', `/conversations/${direct.body.id}/messages`, { client_id: 'carol-1', body: 'carol during the reconnect' }, carol.token);
    assert.equal(carolMsg.status, 200);

    for (const page of [alice, bob]) await waitConnected(page, 30_000);
    await alice.waitForSelector('.chat-sub[data-chat-status=online]', { timeout: 15_000 });
    await bubbles(bob, 'sent while the server was down').waitFor({ timeout: 15_000 });
    await alice.locator('.msg.mine[data-status=pending]').waitFor({ state: 'detached', timeout: 15_000 });

    await sendText(alice, 'after the restart');
    await bubbles(bob, 'after the restart').waitFor({ timeout: 15_000 });
    await sendText(bob, 'got it');
    await bubbles(alice, 'got it').waitFor({ timeout: 15_000 });
    // Bob's list shows Carol's message without a reload.
    await bob.locator('.list .item[data-kind=direct] .item-sub', { hasText: 'carol during the reconnect' }).waitFor({ timeout: 15_000 });

    // Exactly once each, in order, on both sides.
    const expected = ['before the restart', 'sent while the server was down', 'after the restart', 'got it'];
    for (const page of [alice, bob]) {
      for (const text of expected) assert.equal(await bubbles(page, text).count(), 1, `"${text}" shown once`);
      assert.deepEqual(await page.locator('.messages .msg .msg-body').allTextContents(), expected);
    }
    // And the server stored each once.
    const stored = await rest(server.url, 'GET', `/conversations/${await alice.locator('.chat').getAttribute('data-open-conversation')}/messages`, undefined,
      (await rest(server.url, 'POST', '/auth/login', { username: a, password: 'a calm river 42' })).body.token);
    assert.deepEqual(stored.body.messages.map((m) => m.body), expected);
    assertClean(alice, bob);
  } finally {
    await browser.close().catch(() => {});
    await server.stop();
    cleanup(dataDir);
  }
});

/** Alice and Bob signed up in two pages, Alice's chat with Bob open. */
async function aliceWritingToBob(browser, server) {
  const alice = await newUserPage(browser, server.url);
  const bob = await newUserPage(browser, server.url);
  const b = uniqueName('bob');
  await signUp(bob, { username: b });
  await signUp(alice, { username: uniqueName('alice') });
  await openChatWith(alice, b);
  return { alice, bob, conversation: await alice.locator('.chat').getAttribute('data-open-conversation') };
}

/**
 * Routes `page`'s WebSocket through a relay that logs every frame each way (`frames`, with
 * `out` true for the page's) and answers the page's first `send` itself with an error of
 * `code` (`refused`). Until `open` is set the socket gets no connection: it is cut.
 */
async function relayRefusingFirstSend(page, code) {
  const relay = { open: false, refused: null, frames: [] };
  await page.context().routeWebSocket(/\/api\/v1\/ws(\?.*)?$/, (ws) => {
    if (!relay.open) return;
    const toServer = ws.connectToServer();
    ws.onMessage((message) => {
      const frame = JSON.parse(message);
      relay.frames.push({ out: true, frame });
      if (frame.type === 'send' && !relay.refused) {
        relay.refused = frame;
        ws.send(JSON.stringify({ v: 1, type: 'error', ref: frame.ref, code, message: `refused by the test relay: ${code}`, field: null }));
        return;
      }
      toServer.send(message);
    });
    toServer.onMessage((message) => {
      relay.frames.push({ out: false, frame: JSON.parse(message) });
      ws.send(message);
    });
  });
  return relay;
}

test('a send never acknowledged survives a reload and is delivered once', () => withServer(async ({ server, browser }) => {
  const { alice, bob, conversation } = await aliceWritingToBob(browser, server);

  // Cut Alice's WebSocket (REST still works): her new socket opens but the server never answers.
  let block = true;
  await alice.context().routeWebSocket(/\/api\/v1\/ws(\?.*)?$/, (ws) => {
    if (!block) ws.connectToServer();
  });
  await alice.reload();
  await alice.locator(`.list .item[data-conversation="${conversation}"]`).click();
  await sendText(alice, 'written while the socket was cut');
  await alice.locator('.msg.mine[data-status=pending]').waitFor();

  // Reload with the socket back: the pending send is still there and goes out once.
  block = false;
  await alice.reload();
  await waitConnected(alice);
  await alice.locator(`.list .item[data-conversation="${conversation}"]`).click();
  await bob.locator(`.list .item[data-conversation="${conversation}"]`).click();
  await bubbles(bob, 'written while the socket was cut').waitFor();
  await alice.locator('.msg.mine[data-status=pending]').waitFor({ state: 'detached' });
  await alice.reload();
  await waitConnected(alice);
  await alice.locator(`.list .item[data-conversation="${conversation}"]`).click();
  await bubbles(alice, 'written while the socket was cut').waitFor();
  await bob.waitForTimeout(500);
  assert.equal(await bubbles(bob, 'written while the socket was cut').count(), 1);
  assert.equal(await bubbles(alice, 'written while the socket was cut').count(), 1);
  assertClean(alice, bob);
}));

test('messages written while the socket is cut go out one at a time, in order, and a refused one is retried on the open socket', () => withServer(async ({ server, browser }) => {
  const { alice, bob, conversation } = await aliceWritingToBob(browser, server);

  // Alice's socket is cut, then comes back through a relay that answers the first send itself
  // with `unavailable` (a passing server error: the socket stays).
  const relay = await relayRefusingFirstSend(alice, 'unavailable');
  await alice.reload();
  await alice.locator(`.list .item[data-conversation="${conversation}"]`).click();
  const written = ['first, offline', 'second, offline', 'third, offline', 'fourth, offline'];
  for (const text of written) await sendText(alice, text);
  await alice.locator('.msg.mine[data-status=pending]').nth(3).waitFor();

  relay.open = true;
  await alice.reload();
  await waitConnected(alice);
  await bob.locator(`.list .item[data-conversation="${conversation}"]`).click();
  for (const text of written) await bubbles(bob, text).waitFor({ timeout: 15_000 });
  await alice.locator('.msg.mine[data-status=pending]').first().waitFor({ state: 'detached' });

  // The refused send went again on the same socket, first; each send left only after the ack
  // of the one before it.
  const { frames, refused } = relay;
  assert.equal(refused.body, written[0]);
  const sends = frames.filter((f) => f.out && f.frame.type === 'send' && f.frame !== refused);
  assert.deepEqual(sends.map((f) => f.frame.body), written);
  assert.equal(sends[0].frame.client_id, refused.client_id, 'the retry keeps its client id');
  for (let i = 1; i < sends.length; i++) {
    const sentAt = frames.indexOf(sends[i]);
    const ackAt = frames.findIndex((f) => !f.out && f.frame.type === 'ack' && f.frame.client_id === sends[i - 1].frame.client_id);
    assert.ok(ackAt !== -1 && ackAt < sentAt, `"${written[i]}" waited for the ack of "${written[i - 1]}"`);
  }
  // And so they are stored, and shown on both sides, in the order they were written.
  assert.deepEqual(await bob.locator('.messages .msg .msg-body').allTextContents(), written);
  await alice.reload();
  await waitConnected(alice);
  await alice.locator(`.list .item[data-conversation="${conversation}"]`).click();
  await bubbles(alice, written[3]).waitFor();
  assert.deepEqual(await alice.locator('.messages .msg .msg-body').allTextContents(), written);
  assertClean(alice, bob);
}));

test('a send refused for good is marked failed, the one queued behind it still goes, and Retry sends it again last', () => withServer(async ({ server, browser }) => {
  const { alice, bob, conversation } = await aliceWritingToBob(browser, server);

  // Alice's socket is cut while she writes two messages, then comes back through a relay that
  // answers her first send itself with `conversation_not_found` (what a member removed from a
  // group is told): an error that another try cannot cure, unlike `unavailable` above.
  const relay = await relayRefusingFirstSend(alice, 'conversation_not_found');
  await alice.reload();
  await alice.locator(`.list .item[data-conversation="${conversation}"]`).click();
  await sendText(alice, 'refused for good');
  await sendText(alice, 'the next one');
  await alice.locator('.msg.mine[data-status=pending]').nth(1).waitFor();

  relay.open = true;
  await alice.reload();
  await waitConnected(alice);
  await alice.locator(`.list .item[data-conversation="${conversation}"]`).click();
  await bob.locator(`.list .item[data-conversation="${conversation}"]`).click();
  const failed = alice.locator('.msg.mine[data-status=failed]');
  await failed.waitFor();
  assert.equal(await failed.locator('.msg-body').textContent(), 'refused for good');
  await failed.locator('.msg-failed button[data-action=retry]').waitFor();
  await bubbles(bob, 'the next one').waitFor();
  await shot(alice, 'send-failed-desktop');

  // Retry: the same client id, sent after what was written since, and shown last on both sides.
  await failed.locator('button[data-action=retry]').click();
  await bubbles(bob, 'refused for good').waitFor();
  await failed.waitFor({ state: 'detached' });
  const sends = relay.frames.filter((f) => f.out && f.frame.type === 'send' && f.frame !== relay.refused).map((f) => f.frame);
  assert.deepEqual(sends.map((f) => f.body), ['the next one', 'refused for good']);
  assert.equal(sends[1].client_id, relay.refused.client_id, 'the retry keeps its client id');
  for (const page of [alice, bob]) {
    assert.deepEqual(await page.locator('.messages .msg .msg-body').allTextContents(), ['the next one', 'refused for good']);
  }
  assertClean(alice, bob);
}));
