// Replies (issue 22) in a real browser: replying from a message's actions (Esc or × cancels,
// while Esc still cancels an edit and ↑ still edits my last message), the quoted preview on
// both sides, a click on it jumping to an original that is not loaded (read around it, the
// history kept contiguous), a deleted original said so live, and markup in a preview shown as
// text. Screenshots at desktop and phone widths.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  aliceAndBob, assertClean, bubbles, logIn, newUserPage, rest, sendText, shot, withServer,
} from './harness.js';
import { previewOf } from '../../kanect-http/web/replies.js';

const PHONE = { width: 390, height: 844 };

/** Sends a message through the REST API; resolves with the stored message. */
async function say(server, user, conversation, body, extra = {}) {
  const res = await rest(server.url, 'POST', `/conversations/${conversation}/messages`,
    { client_id: `c-${Math.random().toString(36).slice(2)}`, body, ...extra }, user.token);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

/** The row of the message whose body is `text`. */
function row(page, text) {
  const exact = new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
  return page.locator('.messages .msg', { has: page.locator('.msg-body', { hasText: exact }) });
}

/** Starts a reply to the message `text` from its actions (a tap first on a touch layout). */
async function startReply(page, text, { tap = false } = {}) {
  const r = row(page, text);
  if (tap) await r.locator('.msg-body').click();
  else await r.hover();
  await r.locator('button[data-action=reply]').click();
  await page.locator('[data-reply-bar]').waitFor({ state: 'visible' });
}

test('the app makes previews by the rule of the server: first non-empty line, cut at 100 characters', () => {
  const m = (body, extra = {}) => ({ sender: 'u', body, deleted: false, ...extra });
  assert.deepEqual(previewOf(m('\n  \n  lunch?  \nsecond line')), { sender: 'u', text: 'lunch?', deleted: false });
  const long = 'é'.repeat(100);
  assert.equal(previewOf(m(long)).text, long, 'at the limit: whole');
  assert.equal(previewOf(m(`${long}x`)).text, `${long}…`, 'past it: cut, marked');
  assert.equal(previewOf(m('😀'.repeat(101))).text, `${'😀'.repeat(100)}…`, 'characters, not UTF-16 units');
  assert.equal(previewOf(m('', { attachments: [{ name: 'plan.pdf' }] })).text, 'plan.pdf', 'files only: the first name');
  assert.deepEqual(previewOf(m('', { deleted: true })), { sender: 'u', text: '', deleted: true });
});

test('a reply is written from a message, shows its quote on both sides, and Esc or × cancels it', () => withServer(async ({ server, browser }) => {
  const { alice, bob, direct } = await aliceAndBob(server);
  await say(server, bob, direct, 'Lunch at noon?\nOr later, if you are busy.');
  await say(server, bob, direct, 'The new place on Main Street.');
  const page = await newUserPage(browser, server.url);
  const bobPage = await newUserPage(browser, server.url, PHONE);
  await logIn(page, 'alice');
  await logIn(bobPage, 'bob');
  await page.goto(`/#/c/${direct}`);
  await bobPage.goto(`/#/c/${direct}`);
  await bubbles(page, 'The new place on Main Street.').waitFor();

  // The bar names the sender and the first line; × cancels.
  await startReply(page, 'Lunch at noon?\nOr later, if you are busy.');
  const bar = page.locator('[data-reply-bar]');
  assert.equal(await bar.locator('.reply-bar-text').textContent(), 'Replying to bob: Lunch at noon?');
  assert.equal(await page.evaluate(() => document.activeElement.classList.contains('composer-input')), true, 'the composer has the focus');
  await page.click('button[data-action=cancel-reply]');
  await bar.waitFor({ state: 'hidden' });

  // Esc cancels it too (from the composer), and a plain send then is no reply.
  await startReply(page, 'Lunch at noon?\nOr later, if you are busy.');
  await page.press('.composer-input', 'Escape');
  await bar.waitFor({ state: 'hidden' });
  await sendText(page, 'Just a message');
  await bubbles(page, 'Just a message').waitFor();
  assert.equal(await row(page, 'Just a message').locator('.reply-quote').count(), 0);

  // The reply: its quote shows at once, and on bob's side live.
  await startReply(page, 'Lunch at noon?\nOr later, if you are busy.');
  await shot(page, 'replies-bar-desktop');
  await sendText(page, 'Yes, noon is perfect');
  await bar.waitFor({ state: 'hidden' });
  const mine = row(page, 'Yes, noon is perfect');
  await mine.locator('.reply-quote').waitFor();
  assert.equal(await mine.locator('.reply-sender').textContent(), 'bob');
  assert.equal(await mine.locator('.reply-text').textContent(), 'Lunch at noon?');
  await page.waitForFunction(() => [...document.querySelectorAll('.msg.mine')].every((r) => r.dataset.id));
  const theirs = row(bobPage, 'Yes, noon is perfect');
  await theirs.locator('.reply-quote').waitFor();
  assert.equal(await theirs.locator('.reply-sender').textContent(), 'You');
  assert.equal(await theirs.locator('.reply-text').textContent(), 'Lunch at noon?');
  // The server stored it as a reply.
  const page1 = await rest(server.url, 'GET', `/conversations/${direct}/messages`, undefined, alice.token);
  const stored = page1.body.messages.find((m) => m.body === 'Yes, noon is perfect');
  assert.equal(stored.reply_to, 1);
  assert.deepEqual(stored.reply, { sender: bob.user.id, text: 'Lunch at noon?', deleted: false });
  await shot(page, 'replies-quote-desktop');
  await page.emulateMedia({ colorScheme: 'dark' });
  await shot(page, 'replies-quote-desktop-dark');
  await page.emulateMedia({ colorScheme: 'light' });

  // Bob replies from his phone: a tap shows the actions.
  await startReply(bobPage, 'Yes, noon is perfect', { tap: true });
  assert.equal(await bobPage.locator('.reply-bar-text').textContent(), 'Replying to alice: Yes, noon is perfect');
  await shot(bobPage, 'replies-bar-phone');
  await sendText(bobPage, 'See you there');
  await row(page, 'See you there').locator('.reply-quote').waitFor();
  assert.equal(await row(page, 'See you there').locator('.reply-sender').textContent(), 'You');
  await shot(bobPage, 'replies-quote-phone');

  // The phone layout: the actions fit in the pane, with touch-sized buttons.
  const layout = await bobPage.evaluate(() => {
    const pane = document.querySelector('.messages').getBoundingClientRect();
    const buttons = [...document.querySelectorAll('.msg.show-actions .msg-actions button')].map((b) => b.getBoundingClientRect());
    return { pane: { left: pane.left, right: pane.right }, buttons: buttons.map((b) => ({ left: b.left, right: b.right, w: b.width, h: b.height })) };
  });
  for (const b of layout.buttons) {
    assert.ok(b.left >= layout.pane.left && b.right <= layout.pane.right, `action inside the pane: ${JSON.stringify(b)}`);
    assert.ok(b.w >= 36 && b.h >= 36, `touch-sized action: ${JSON.stringify(b)}`);
  }

  // Esc still cancels an edit, and ↑ still edits my last message, with or without a reply open.
  await startReply(page, 'See you there');
  await page.press('.composer-input', 'ArrowUp');
  await page.locator('.msg.editing .edit-input').waitFor();
  assert.equal(await page.locator('.msg.editing .edit-input').inputValue(), 'Yes, noon is perfect');
  await page.keyboard.press('Escape');
  await page.locator('.edit-box').waitFor({ state: 'detached' });
  assert.equal(await bar.isVisible(), true, 'Esc in the edit box cancelled the edit only');
  await page.press('.composer-input', 'Escape');
  await bar.waitFor({ state: 'hidden' });

  // An edit of an original changes the quotes of the replies shown, on both sides.
  await page.press('.composer-input', 'ArrowUp');
  await page.locator('.msg.editing .edit-input').fill('Yes, 12:30 is perfect');
  await page.locator('.msg.editing .edit-input').press('Enter');
  await bubbles(page, 'Yes, 12:30 is perfect').waitFor();
  await row(page, 'See you there').locator('.reply-text', { hasText: 'Yes, 12:30 is perfect' }).waitFor();
  await row(bobPage, 'See you there').locator('.reply-text', { hasText: 'Yes, 12:30 is perfect' }).waitFor();

  // A reply being written to a message that gets deleted is cancelled (the server would refuse it).
  await startReply(bobPage, 'Yes, 12:30 is perfect', { tap: true });
  const mineNow = row(page, 'Yes, 12:30 is perfect');
  await mineNow.hover();
  await mineNow.locator('button[data-action=delete]').click();
  await page.click('dialog[data-dialog=confirm] button[data-action=confirm]');
  await bobPage.locator('[data-reply-bar]').waitFor({ state: 'hidden' });
  await row(bobPage, 'See you there').locator('.reply-quote.reply-deleted').waitFor();
  assertClean(page, bobPage);
}));

test('a click on a quote jumps to an original that is not loaded; a deleted original says so live', () => withServer(async ({ server, browser }) => {
  const { alice, bob, direct } = await aliceAndBob(server);
  const original = await say(server, bob, direct, 'The plan, in short: meet at the lake.');
  // 120 messages between (split between the two: each account may send 100 at once).
  for (let i = 1; i <= 60; i++) await say(server, bob, direct, `bob filler ${i}`);
  for (let i = 1; i <= 60; i++) await say(server, alice, direct, `alice filler ${i}`);
  await say(server, bob, direct, 'Back to the plan', { reply_to: original.seq });
  // Read: the conversation opens at the bottom.
  await rest(server.url, 'POST', `/conversations/${direct}/receipts`, { kind: 'read', seq: 122 }, alice.token);

  for (const [viewport, name] of [[undefined, 'desktop'], [PHONE, 'phone']]) {
    const page = await newUserPage(browser, server.url, viewport);
    await logIn(page, 'alice');
    await page.goto(`/#/c/${direct}`);
    const reply = row(page, 'Back to the plan');
    await reply.locator('.reply-quote').waitFor();
    assert.equal(await reply.locator('.reply-text').textContent(), 'The plan, in short: meet at the lake.');
    assert.equal(await page.locator('.msg[data-seq="1"]').count(), 0, 'the original is not loaded');
    await reply.locator('.reply-quote').click();
    const target = page.locator('.msg[data-seq="1"]');
    await target.waitFor();
    await page.waitForSelector('.msg[data-seq="1"].flash');
    await page.waitForTimeout(200);
    const seen = await page.evaluate(() => {
      const pane = document.querySelector('.messages').getBoundingClientRect();
      const box = document.querySelector('.msg[data-seq="1"]').getBoundingClientRect();
      const seqs = [...document.querySelectorAll('.msg[data-seq]')].map((r) => Number(r.dataset.seq));
      return { inView: box.top >= pane.top - 1 && box.bottom <= pane.bottom + 1, seqs };
    });
    assert.ok(seen.inView, 'the original is scrolled into view');
    assert.deepEqual(seen.seqs, Array.from({ length: 122 }, (_, i) => i + 1), 'the history is contiguous, each message once');
    await shot(page, `replies-jump-${name}`);
    if (name === 'phone') {
      // Deleted by its sender: the replies shown say so, live.
      await page.evaluate(() => { document.querySelector('.messages').scrollTop = 1e9; });
      const del = await rest(server.url, 'DELETE', `/messages/${original.id}`, undefined, bob.token);
      assert.equal(del.status, 200);
      await reply.locator('.reply-quote.reply-deleted').waitFor();
      assert.equal(await reply.locator('.reply-text').textContent(), 'Original message deleted');
      assert.equal(await reply.locator('.reply-sender').count(), 0);
      await shot(page, 'replies-deleted-phone');
      // And after a reload, from the server.
      await page.reload();
      await row(page, 'Back to the plan').locator('.reply-quote.reply-deleted').waitFor();
    }
    assertClean(page);
    await page.context().close();
  }
}));

test('markup in a quoted message shows as text in the preview and the bar', () => withServer(async ({ server, browser }) => {
  const { bob, direct } = await aliceAndBob(server);
  const PAYLOAD = '<img src=x onerror=alert(1)>';
  await say(server, bob, direct, PAYLOAD);
  const page = await newUserPage(browser, server.url);
  page.on('dialog', (d) => {
    page.problems.push(`dialog: ${d.message()}`);
    d.dismiss().catch(() => {});
  });
  await logIn(page, 'alice');
  await page.goto(`/#/c/${direct}`);
  await bubbles(page, PAYLOAD).waitFor();
  await startReply(page, PAYLOAD);
  assert.equal(await page.locator('.reply-bar-text').textContent(), `Replying to bob: ${PAYLOAD}`);
  await sendText(page, 'that looks odd');
  const quote = row(page, 'that looks odd').locator('.reply-quote');
  await quote.waitFor();
  assert.equal(await quote.locator('.reply-text').textContent(), PAYLOAD);
  await page.reload();
  await row(page, 'that looks odd').locator('.reply-quote').waitFor();
  assert.equal(await row(page, 'that looks odd').locator('.reply-text').textContent(), PAYLOAD);
  assert.equal(await page.locator('#app img').count(), 0, 'no <img> element was created');
  assertClean(page);
}));
