// The chat view's fixes from issue 22, each in a real browser: the typing bubble in a
// conversation long enough to scroll, the composer and the edit box past the 4,000-character
// limit, the tab title against the "99+" badge, and an administrator's name beside the shield
// icon.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  aliceAndBob, assertClean, bubbles, createAdmin, logIn, newUserPage, rest, shot, withServer,
} from './harness.js';

const PHONE = { width: 390, height: 844 };
const LIMIT = 4000;

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
  const { alice, bob, direct } = await aliceAndBob(server);
  await sendMany(server, bob, direct, 40, 'line');
  // Read: the conversation opens at the bottom (with unread messages it opens on the first).
  const read = await rest(server.url, 'POST', `/conversations/${direct}/receipts`, { kind: 'read', seq: 40 }, alice.token);
  assert.equal(read.status, 200);
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

/** The composer's limit state: its text length (characters), counter, send button, error. */
function composerState(page) {
  return page.evaluate(() => {
    const input = document.querySelector('.composer-input');
    const limit = document.querySelector('[data-composer-limit]');
    return {
      chars: [...input.value].length,
      counter: limit && !limit.hidden ? limit.textContent : '',
      over: Boolean(limit && limit.classList.contains('over')),
      invalid: input.getAttribute('aria-invalid') === 'true',
      sendDisabled: document.querySelector('.send-btn').disabled,
    };
  });
}

test('the composer keeps a text past 4,000 characters whole, says it is over the limit and refuses to send it', () => withServer(async ({ server, browser }) => {
  const { bob, direct } = await aliceAndBob(server);
  for (const [viewport, name] of [[undefined, 'desktop'], [PHONE, 'phone']]) {
    const page = await newUserPage(browser, server.url, viewport);
    await logIn(page, 'alice');
    await page.goto(`/#/c/${direct}`);
    await page.waitForSelector('.history-start');
    const input = page.locator('.composer-input');

    // Exactly 4,000 characters, ten of them outside the BMP (two UTF-16 units each, one
    // character each for the server): whole, not an error, and sendable.
    const atLimit = `${'😀'.repeat(10)}${'a'.repeat(LIMIT - 10)}`;
    await input.focus();
    await page.keyboard.insertText(atLimit);
    let s = await composerState(page);
    assert.equal(s.chars, LIMIT, 'nothing cut at the limit');
    assert.equal(s.over, false);
    assert.equal(s.invalid, false);
    assert.equal(s.sendDisabled, false);
    if (name === 'desktop') {
      await page.press('.composer-input', 'Enter');
      await page.locator('.msg.mine[data-status=sent], .msg.mine[data-status=delivered], .msg.mine[data-status=read]').first().waitFor();
      const stored = await rest(server.url, 'GET', `/conversations/${direct}/messages`, undefined, bob.token);
      assert.equal(stored.body.messages.length, 1);
      assert.equal([...stored.body.messages[0].body].length, LIMIT, 'the server took all 4,000 characters');
    } else {
      await input.fill('');
    }

    // 4,001 characters pasted: all kept, the counter says so in the error style, no send.
    const past = `${'b'.repeat(LIMIT)}c`;
    await input.focus();
    await page.keyboard.insertText(past);
    s = await composerState(page);
    assert.equal(s.chars, LIMIT + 1, 'the pasted text is kept whole');
    assert.equal(await input.inputValue(), past);
    assert.equal(s.over, true);
    assert.equal(s.invalid, true);
    assert.equal(s.sendDisabled, true);
    assert.match(s.counter, /4,001 \/ 4,000/);
    assert.match(s.counter, /1 character too many/);
    await shot(page, `chatview-over-limit-${name}`);
    await page.press('.composer-input', 'Enter');
    await page.waitForTimeout(300);
    assert.equal(await input.inputValue(), past, 'Enter neither sends nor clears it');
    const stored = await rest(server.url, 'GET', `/conversations/${direct}/messages`, undefined, bob.token);
    assert.equal(stored.body.messages.length, 1, 'nothing more was sent');

    // Trimmed back to the limit: back to normal, and it sends.
    await page.press('.composer-input', 'End');
    await page.press('.composer-input', 'Backspace');
    s = await composerState(page);
    assert.equal(s.chars, LIMIT);
    assert.equal(s.over, false);
    assert.equal(s.invalid, false);
    assert.equal(s.sendDisabled, false);
    await shot(page, `chatview-at-limit-${name}`);
    await input.fill('');
    assertClean(page);
    await page.context().close();
  }
}));

test('the edit box keeps a text past 4,000 characters whole and refuses to save it, in words', () => withServer(async ({ server, browser }) => {
  const { bob, direct } = await aliceAndBob(server);
  const page = await newUserPage(browser, server.url);
  await logIn(page, 'alice');
  await page.goto(`/#/c/${direct}`);
  await page.waitForSelector('.history-start');
  await page.fill('.composer-input', 'short');
  await page.press('.composer-input', 'Enter');
  await page.locator('.msg.mine[data-status=sent], .msg.mine[data-status=delivered], .msg.mine[data-status=read]').first().waitFor();

  await page.click('.msg.mine button[data-action=edit]');
  const area = page.locator('.edit-input');
  await area.fill('');
  await area.focus();
  const past = `${'😀'.repeat(10)}${'e'.repeat(LIMIT - 10)}!`;
  await page.keyboard.insertText(past);
  assert.equal(await area.inputValue(), past, 'the pasted text is kept whole');
  await page.press('.edit-input', 'Enter');
  await page.getByText('Not saved: a message has at most 4,000 characters.').waitFor();
  assert.equal(await area.getAttribute('aria-invalid'), 'true');
  assert.equal(await area.inputValue(), past, 'still editing, nothing lost');
  let stored = await rest(server.url, 'GET', `/conversations/${direct}/messages`, undefined, bob.token);
  assert.equal(stored.body.messages[0].body, 'short', 'nothing saved');
  await shot(page, 'chatview-edit-over-limit-desktop');

  // One character fewer: exactly 4,000 (ten of them outside the BMP), saved whole.
  await page.press('.edit-input', 'End');
  await page.press('.edit-input', 'Backspace');
  assert.equal(await area.getAttribute('aria-invalid'), null);
  await page.press('.edit-input', 'Enter');
  await page.waitForFunction(() => !document.querySelector('.edit-input'));
  stored = await rest(server.url, 'GET', `/conversations/${direct}/messages`, undefined, bob.token);
  assert.equal([...stored.body.messages[0].body].length, LIMIT, 'the server took all 4,000 characters');
  assertClean(page);
}));

test('the tab title and the unread badge agree past 99: "(99+)"', () => withServer(async ({ server, browser }) => {
  const { bob, direct } = await aliceAndBob(server);
  await sendMany(server, bob, direct, 99, 'ping');
  const page = await newUserPage(browser, server.url);
  await logIn(page, 'alice');
  const badge = page.locator(`.list .item[data-conversation="${direct}"] .badge`);
  await page.locator(`.list .item[data-conversation="${direct}"] .badge[data-unread="99"]`).waitFor();
  assert.equal(await badge.textContent(), '99');
  assert.equal(await page.title(), '(99) Kanect');

  // The server counts unread messages up to 100: 100 means "more than 99".
  await sendMany(server, bob, direct, 6, 'more');
  await page.locator(`.list .item[data-conversation="${direct}"] .badge[data-unread="100"]`).waitFor();
  assert.equal(await badge.textContent(), '99+');
  await page.waitForFunction(() => document.title !== '(99) Kanect');
  assert.equal(await page.title(), '(99+) Kanect');
  await shot(page, 'chatview-unread-99-plus-desktop');
  await page.setViewportSize(PHONE);
  await shot(page, 'chatview-unread-99-plus-phone');
  assertClean(page);
}, { args: ['--limit-sends', 'off'] }));

test("an administrator's name shows whole beside the shield icon, at desktop and phone widths", () => withServer(async ({ browser, server }) => {
  for (const [viewport, name] of [[undefined, 'desktop'], [PHONE, 'phone']]) {
    const page = await newUserPage(browser, server.url, viewport);
    await logIn(page, 'administrator', 'the admin password 7');
    await page.locator('.side-head a[data-action=admin]').waitFor();
    const fit = await page.evaluate(() => {
      const el = document.querySelector('.side-name');
      return { text: el.textContent, scrollWidth: el.scrollWidth, clientWidth: el.clientWidth };
    });
    assert.equal(fit.text, 'administrator');
    assert.ok(fit.clientWidth > 0 && fit.scrollWidth <= fit.clientWidth, `not truncated: ${JSON.stringify(fit)}`);
    await shot(page, `chatview-admin-name-${name}`);
    assertClean(page);
    await page.context().close();
  }
}, { prepare: (dataDir) => createAdmin(dataDir, 'administrator', 'the admin password 7') }));
