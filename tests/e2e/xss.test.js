// User text is only ever inserted as text: markup in a message or a display name is shown
// literally and never runs.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertClean, bubbles, newUserPage, openChatWith, sendText, signUp, uniqueName, withServer } from './harness.js';

const PAYLOAD = '<img src=x onerror="window.__xss=1">';
const NAME_PAYLOAD = '<img src=y onerror="window.__xss=2">';

test('markup in a message and in a display name shows as text and runs nothing', () => withServer(async ({ server, browser }) => {
  const mallory = await newUserPage(browser, server.url);
  const victim = await newUserPage(browser, server.url);
  const m = uniqueName('mallory');
  const v = uniqueName('victim');
  await signUp(mallory, { username: m, displayName: NAME_PAYLOAD });
  await signUp(victim, { username: v });

  await openChatWith(mallory, v);
  await sendText(mallory, PAYLOAD);
  await bubbles(mallory, PAYLOAD).waitFor();

  // The victim sees the display name in the list and the header, and the message, as text.
  const item = victim.locator(`.list .item[data-username="${m}"]`);
  await item.waitFor();
  assert.equal(await item.locator('.item-title').textContent(), NAME_PAYLOAD);
  await item.click();
  await bubbles(victim, PAYLOAD).waitFor();
  assert.equal(await victim.locator('.chat-title').textContent(), NAME_PAYLOAD);

  // The victim edits nothing but a reply quoting it; the sender edits their message to more markup.
  await sendText(victim, `you sent ${PAYLOAD}`);
  await bubbles(mallory, `you sent ${PAYLOAD}`).waitFor();

  // Web links become links; a javascript: URL stays text.
  const LINKS = 'see https://example.com/a?b=1, not javascript:window.__xss=3';
  await sendText(mallory, LINKS);
  await bubbles(victim, LINKS).waitFor();
  const links = victim.locator('.msg.theirs .msg-body a');
  assert.equal(await links.count(), 1);
  assert.equal(await links.getAttribute('href'), 'https://example.com/a?b=1');
  assert.equal(await links.getAttribute('rel'), 'noopener noreferrer nofollow');

  for (const page of [mallory, victim]) {
    assert.equal(await page.evaluate(() => window.__xss), undefined);
    assert.equal(await page.locator('#app img').count(), 0, 'no <img> element was created');
  }
  assertClean(mallory, victim);
}));
