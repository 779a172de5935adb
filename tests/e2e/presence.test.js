// Away, in the browser: a server that counts a user away after 2 s without activity
// (`--away-after 2s`, noticed at a 200 ms heartbeat), Alice's page left alone, and Bob (at
// desktop and phone width) sees her go from online to away — the amber ring and the word, apart
// from Carol, who is offline — and back to online at her first key press. While she keeps
// typing she stays online past the away time: the web app reports activity more often than the
// server's away time, which `hello` tells it.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { apiSignup, assertClean, logIn, newUserPage, rest, shot, withServer } from './harness.js';

const PHONE = { width: 390, height: 844 };
const AWAY_AFTER_MS = 2000;
/** The away time, a few heartbeats and a frame's delivery, with room for a slow machine. */
const AWAY_SEEN_MS = AWAY_AFTER_MS + 6000;
/** A change announced at once (activity): a frame's delivery, with room. */
const LIVE_MS = 3000;

test('idle goes away and comes back; typing stays online; away is not offline', () => withServer(async ({ server, browser }) => {
  const alice = await apiSignup(server.url, 'alice', 'a calm river 42', { display_name: 'Alice Martin' });
  const bob = await apiSignup(server.url, 'bob', 'a calm river 42', { display_name: 'Bob Stone' });
  await apiSignup(server.url, 'carol', 'a calm river 42', { display_name: 'Carol Diaz' }); // never connects
  const direct = (await rest(server.url, 'POST', '/conversations/direct', { user: alice.user.id }, bob.token)).body;
  const sent = await rest(server.url, 'POST', `/conversations/${direct.id}/messages`, { client_id: 'p1', body: 'Are you there?' }, bob.token);
  assert.equal(sent.status, 200);

  const desk = await newUserPage(browser, server.url);
  await logIn(desk, 'bob');
  await desk.locator(`.list .item[data-conversation="${direct.id}"]`).click();
  const phone = await newUserPage(browser, server.url, PHONE);
  await logIn(phone, 'bob');
  const alicePage = await newUserPage(browser, server.url);
  await logIn(alicePage, 'alice');

  const aliceItem = (page) => page.locator(`.list .item[data-conversation="${direct.id}"]`);
  const header = desk.locator('[data-chat-status]');
  await aliceItem(desk).locator('.dot-on').waitFor({ timeout: LIVE_MS });
  await desk.waitForSelector('[data-chat-status=online]', { timeout: LIVE_MS });

  // Alice leaves her page alone: away, in the list (ring and word) and the chat's header.
  const idleSince = Date.now();
  await aliceItem(desk).locator('.dot-away').waitFor({ timeout: AWAY_SEEN_MS });
  assert.ok(Date.now() - idleSince >= AWAY_AFTER_MS - 500, 'not away before the away time');
  await desk.waitForSelector('[data-chat-status=away]', { timeout: LIVE_MS });
  assert.match(await header.textContent(), /^away/);
  await aliceItem(phone).locator('.dot-away').waitFor({ timeout: LIVE_MS });
  // Carol, offline, has no ring and does not say away.
  const carol = desk.locator('.list .item[data-username=carol]');
  assert.equal(await carol.locator('[data-presence]').getAttribute('data-presence'), 'offline');
  assert.equal(await carol.locator('.dot').count(), 0);
  await shot(desk, 'presence-away-desktop');
  await shot(phone, 'presence-away-phone');

  // A key in her page: online again on both of Bob's screens, at once.
  await alicePage.keyboard.press('Shift');
  await aliceItem(desk).locator('.dot-on').waitFor({ timeout: LIVE_MS });
  await desk.waitForSelector('[data-chat-status=online]', { timeout: LIVE_MS });
  await aliceItem(phone).locator('.dot-on').waitFor({ timeout: LIVE_MS });
  await shot(desk, 'presence-back-desktop');

  // Typing on for longer than the away time: never away meanwhile.
  await desk.evaluate(() => {
    window.sawAway = false;
    new MutationObserver(() => {
      if (document.querySelector('.dot-away')) window.sawAway = true;
    }).observe(document.body, { subtree: true, childList: true, attributes: true });
  });
  for (const until = Date.now() + AWAY_AFTER_MS * 2; Date.now() < until;) {
    await alicePage.keyboard.press('Shift');
    await alicePage.waitForTimeout(250);
  }
  await desk.waitForTimeout(500); // a heartbeat's sweep after the last key, and its frame
  assert.equal(await desk.evaluate(() => window.sawAway), false, 'Alice showed as away while typing');
  assert.equal(await aliceItem(desk).locator('.dot-on').count(), 1);
  assert.equal(await desk.getAttribute('[data-chat-status]', 'data-chat-status'), 'online');
  assertClean(desk, phone, alicePage);
}, { args: ['--away-after', `${AWAY_AFTER_MS / 1000}s`, '--heartbeat-ms', '200'] }));
