// The chat view's fixes from issue 22, each in a real browser: the typing bubble in a
// conversation long enough to scroll, the composer past the 4,000-character limit, the tab title
// against the "99+" badge, and an administrator's name beside the shield icon.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  apiSignup, assertClean, bubbles, createAdmin, logIn, newUserPage, rest, shot, withServer,
} from './harness.js';

const PHONE = { width: 390, height: 844 };
const LIMIT = 4000;

/** Signs alice and bob up through the API; resolves with both and their direct conversation. */
async function aliceAndBob(server) {
  const alice = await apiSignup(server.url, 'alice');
  const bob = await apiSignup(server.url, 'bob');
  const res = await rest(server.url, 'POST', '/conversations/direct', { user: alice.user.id }, bob.token);
  assert.equal(res.status, 200);
  return { alice, bob, direct: res.body.id };
}

/** Sends `count` messages "NAME 1", "NAME 2", … through the REST API, in order. */
async function sendMany(server, from, conversation, count, name) {
  for (let i = 1; i <= count; i++) {
    const res = await rest(server.url, 'POST', `/conversations/${conversation}/messages`,
      { client_id: `${name}-${i}`, body: `${name} ${i}` }, from.token);
    assert.equal(res.status, 200, JSON.stringify(res.body));
  }
}

/** The typing row's box, the message pane's box and the window's height, read in the page. */
function typingBoxes(page) {
  return page.evaluate(() => {
    const row = document.querySelector('.typing-row').getBoundingClientRect();
    const pane = document.querySelector('.messages').getBoundingClientRect();
    return { row: { top: row.top, bottom: row.bottom, height: row.height }, pane: { top: pane.top, bottom: pane.bottom }, viewport: window.innerHeight };
  });
}

/** Bob types in the conversation; alice's open view shows the typing row, whole and in view. */
async function assertTypingShown(page, server, bob, direct, shotName) {
  const res = await rest(server.url, 'POST', `/conversations/${direct}/typing`, undefined, bob.token);
  assert.equal(res.status, 204);
  await page.waitForSelector('.typing-row.on', { state: 'attached' });
  await page.waitForFunction(() => document.querySelector('.typing-row').textContent.includes('is typing'));
  // The row has its full height once the transition (if any) ends; wait for it to settle.
  await page.waitForTimeout(300);
  const box = await typingBoxes(page);
  assert.ok(box.row.height > 0, `typing row height ${box.row.height}`);
  assert.ok(box.row.top >= box.pane.top - 1 && box.row.bottom <= box.pane.bottom + 1,
    `typing row ${JSON.stringify(box.row)} inside the message pane ${JSON.stringify(box.pane)}`);
  assert.ok(box.row.top >= 0 && box.row.bottom <= box.viewport, `typing row inside the viewport (${box.viewport})`);
  await shot(page, shotName);
}

test('the typing row shows, with its height, in a conversation long enough to scroll', () => withServer(async ({ server, browser }) => {
  const { bob, direct } = await aliceAndBob(server);
  await sendMany(server, bob, direct, 40, 'line');
  for (const [viewport, name] of [[undefined, 'desktop'], [PHONE, 'phone']]) {
    const page = await newUserPage(browser, server.url, viewport);
    await logIn(page, 'alice');
    await page.goto(`/#/c/${direct}`);
    await bubbles(page, 'line 40').waitFor();
    const scrolls = await page.evaluate(() => {
      const pane = document.querySelector('.messages');
      return pane.scrollHeight > pane.clientHeight;
    });
    assert.ok(scrolls, 'the conversation is long enough to scroll');
    await assertTypingShown(page, server, bob, direct, `chatview-typing-${name}`);
    assert.match(await page.locator('.typing-row').textContent(), /bob is typing/);
    assertClean(page);
    await page.context().close();
  }
}));
