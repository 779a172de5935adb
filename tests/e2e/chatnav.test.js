// Finding one's way in a conversation (issue 22), in a real browser: the "New messages" divider
// a conversation with unread messages opens on, the jump-to-bottom button and its count, a
// draft per conversation that survives switching and reloading, and the keyboard (Esc closes
// dialogs and cancels an edit, ↑ in the empty composer edits my last message).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  aliceAndBob, apiSignup, assertClean, bubbles, logIn, newUserPage, rest, sendText, shot, withServer,
} from './harness.js';

const PHONE = { width: 390, height: 844 };

/** Sends messages "NAME from" … "NAME to" through the REST API, in order. */
async function sendMany(server, from, conversation, name, first, last) {
  for (let i = first; i <= last; i++) {
    const res = await rest(server.url, 'POST', `/conversations/${conversation}/messages`,
      { client_id: `${name}-${i}`, body: `${name} ${i}` }, from.token);
    assert.equal(res.status, 200, JSON.stringify(res.body));
  }
}

/** Moves a user's read mark through the REST API. */
async function markRead(server, user, conversation, seq) {
  const res = await rest(server.url, 'POST', `/conversations/${conversation}/receipts`, { kind: 'read', seq }, user.token);
  assert.equal(res.status, 200, JSON.stringify(res.body));
}

/** Where the divider and the pane are, read in the page. */
function dividerState(page) {
  return page.evaluate(() => {
    const pane = document.querySelector('.messages');
    const dividers = document.querySelectorAll('.messages [data-new-divider]');
    const divider = dividers[0];
    const box = divider ? divider.getBoundingClientRect() : null;
    const view = pane.getBoundingClientRect();
    const next = divider ? divider.nextElementSibling : null;
    return {
      count: dividers.length,
      text: divider ? divider.textContent : null,
      next: next ? next.querySelector('.msg-body')?.textContent : null,
      inView: Boolean(box) && box.top >= view.top - 1 && box.bottom <= view.bottom + 1,
      fromBottom: pane.scrollHeight - pane.scrollTop - pane.clientHeight,
    };
  });
}

test('a conversation with unread messages opens on a "New messages" divider above the first', () => withServer(async ({ server, browser }) => {
  const { alice, bob, direct } = await aliceAndBob(server);
  // 60 messages, alice has read 40 of them: 20 unread, more than a screen.
  await sendMany(server, bob, direct, 'line', 1, 60);
  await markRead(server, alice, direct, 40);
  for (const [viewport, name] of [[undefined, 'desktop'], [PHONE, 'phone']]) {
    const page = await newUserPage(browser, server.url, viewport);
    if (name === 'phone') {
      // The desktop page read everything: 20 more, unread.
      await sendMany(server, bob, direct, 'more', 1, 20);
    }
    await logIn(page, 'alice');
    await page.goto(`/#/c/${direct}`);
    const first = name === 'desktop' ? 'line 41' : 'more 1';
    await bubbles(page, first).waitFor();
    await page.waitForSelector('.messages [data-new-divider]');
    await page.waitForTimeout(300);
    const s = await dividerState(page);
    assert.equal(s.count, 1);
    assert.equal(s.text, 'New messages');
    assert.equal(s.next, first, 'the divider sits right above the first unread message');
    assert.ok(s.inView, 'the divider is in view on open');
    assert.ok(s.fromBottom > 80, `the view is not at the bottom (${s.fromBottom}px above it)`);
    await shot(page, `chatnav-divider-${name}`);

    // Opened again with nothing unread: no divider, at the bottom.
    await page.goto('/#/');
    await page.waitForSelector('.welcome, .shell[data-pane=list]');
    await page.goto(`/#/c/${direct}`);
    await bubbles(page, name === 'desktop' ? 'line 60' : 'more 20').waitFor();
    await page.waitForTimeout(300);
    const again = await dividerState(page);
    assert.equal(again.count, 0, 'no divider with nothing unread');
    assert.ok(again.fromBottom < 80, `opens at the bottom (${again.fromBottom}px above it)`);
    assertClean(page);
    await page.context().close();
  }
}));

test('a first unread message older than the newest page is loaded to show the divider; my own message counts as read', () => withServer(async ({ server, browser }) => {
  const { alice, bob, direct } = await aliceAndBob(server);
  // 80 unread of 90: the first unread (seq 11) is older than the newest page of 50.
  await sendMany(server, bob, direct, 'old', 1, 90);
  await markRead(server, alice, direct, 10);
  const page = await newUserPage(browser, server.url);
  await logIn(page, 'alice');
  await page.goto(`/#/c/${direct}`);
  await page.waitForSelector('.messages [data-new-divider]');
  await page.waitForTimeout(300);
  const s = await dividerState(page);
  assert.equal(s.next, 'old 11');
  assert.ok(s.inView, 'the divider is in view on open');

  // What came before my own message counts as read, as in Slack (sending does not move the
  // read mark): carol wrote, alice answered from another device, carol wrote again.
  const carol = await apiSignup(server.url, 'carol');
  const res = await rest(server.url, 'POST', '/conversations/direct', { user: alice.user.id }, carol.token);
  await sendMany(server, carol, res.body.id, 'before', 1, 5);
  await sendMany(server, alice, res.body.id, 'answer', 1, 1);
  await sendMany(server, carol, res.body.id, 'after', 1, 3);
  await page.goto(`/#/c/${res.body.id}`);
  await page.waitForSelector('.messages [data-new-divider]');
  assert.equal((await dividerState(page)).next, 'after 1');
  assertClean(page);
}));

test('scrolled up, a jump button counts new messages and takes me to the bottom', () => withServer(async ({ server, browser }) => {
  const { alice, bob, direct } = await aliceAndBob(server);
  await sendMany(server, bob, direct, 'line', 1, 60);
  for (const [viewport, name] of [[undefined, 'desktop'], [PHONE, 'phone']]) {
    // All read (the desktop round's two new ones too): the conversation opens at the bottom.
    await markRead(server, alice, direct, name === 'desktop' ? 60 : 62);
    const page = await newUserPage(browser, server.url, viewport);
    await logIn(page, 'alice');
    await page.goto(`/#/c/${direct}`);
    await bubbles(page, 'line 60').waitFor();
    const jump = page.locator('button[data-action=jump-bottom]');
    await page.waitForTimeout(300);
    assert.equal(await jump.isVisible(), false, 'no button at the bottom');

    // Scrolled up more than a screen: the button, without a count.
    await page.evaluate(() => {
      const pane = document.querySelector('.messages');
      pane.scrollTop = pane.scrollHeight - pane.clientHeight * 2.5;
    });
    await jump.waitFor({ state: 'visible' });
    assert.equal(await page.locator('[data-jump-count]').isVisible(), false);

    // Two messages arrive meanwhile: counted on the button, the view stays.
    const before = await page.evaluate(() => document.querySelector('.messages').scrollTop);
    await sendMany(server, bob, direct, `${name}-new`, 1, 2);
    await bubbles(page, `${name}-new 2`).waitFor({ state: 'attached' });
    await page.waitForFunction(() => document.querySelector('[data-jump-count]').textContent === '2');
    assert.equal(await page.locator('[data-jump-count]').isVisible(), true);
    const after = await page.evaluate(() => document.querySelector('.messages').scrollTop);
    assert.ok(Math.abs(after - before) < 2, `the view stayed (${before} → ${after})`);
    await shot(page, `chatnav-jump-${name}`);

    // The button sits inside the pane, at its bottom right.
    const boxes = await page.evaluate(() => {
      const b = document.querySelector('button[data-action=jump-bottom]').getBoundingClientRect();
      const p = document.querySelector('.messages').getBoundingClientRect();
      return { b: { left: b.left, right: b.right, top: b.top, bottom: b.bottom }, p: { left: p.left, right: p.right, top: p.top, bottom: p.bottom } };
    });
    assert.ok(boxes.b.bottom <= boxes.p.bottom && boxes.b.top > boxes.p.top + (boxes.p.bottom - boxes.p.top) / 2, JSON.stringify(boxes));
    assert.ok(boxes.b.right <= boxes.p.right && boxes.b.left > boxes.p.left + (boxes.p.right - boxes.p.left) / 2, JSON.stringify(boxes));

    await jump.click();
    await jump.waitFor({ state: 'hidden' });
    const fromBottom = await page.evaluate(() => {
      const pane = document.querySelector('.messages');
      return pane.scrollHeight - pane.scrollTop - pane.clientHeight;
    });
    assert.ok(fromBottom < 2, `at the bottom after the click (${fromBottom})`);
    assert.equal(await bubbles(page, `${name}-new 2`).isVisible(), true);

    // Scrolled up again: the count starts from nothing.
    await page.evaluate(() => {
      const pane = document.querySelector('.messages');
      pane.scrollTop = 0;
    });
    await jump.waitFor({ state: 'visible' });
    assert.equal(await page.locator('[data-jump-count]').isVisible(), false);
    assertClean(page);
    await page.context().close();
  }
}));

test('a draft is kept per conversation, across switches and reloads, and goes when sent', () => withServer(async ({ server, browser }) => {
  const { alice, direct } = await aliceAndBob(server);
  const carol = await apiSignup(server.url, 'carol');
  const other = await rest(server.url, 'POST', '/conversations/direct', { user: carol.user.id }, alice.token);
  assert.equal(other.status, 200);
  const page = await newUserPage(browser, server.url);
  await logIn(page, 'alice');
  await page.goto(`/#/c/${direct}`);
  await page.waitForSelector(`[data-open-conversation="${direct}"]`);
  await page.fill('.composer-input', 'half a thought for bob');

  // To carol's conversation: an empty composer; back: the draft.
  await page.goto(`/#/c/${other.body.id}`);
  await page.waitForSelector(`[data-open-conversation="${other.body.id}"]`);
  assert.equal(await page.inputValue('.composer-input'), '');
  await page.fill('.composer-input', 'for carol');
  await page.goto(`/#/c/${direct}`);
  await page.waitForSelector(`[data-open-conversation="${direct}"]`);
  assert.equal(await page.inputValue('.composer-input'), 'half a thought for bob');

  // A reload keeps both.
  await page.reload();
  await page.waitForSelector(`[data-open-conversation="${direct}"]`);
  assert.equal(await page.inputValue('.composer-input'), 'half a thought for bob');

  // A draft over the limit is kept whole and still flagged.
  const long = 'x'.repeat(4010);
  await page.fill('.composer-input', long);
  await page.goto(`/#/c/${other.body.id}`);
  await page.waitForSelector(`[data-open-conversation="${other.body.id}"]`);
  assert.equal(await page.inputValue('.composer-input'), 'for carol');
  await page.goto(`/#/c/${direct}`);
  await page.waitForSelector(`[data-open-conversation="${direct}"]`);
  assert.equal((await page.inputValue('.composer-input')).length, 4010);
  assert.equal(await page.getAttribute('.composer-input', 'aria-invalid'), 'true');
  assert.equal(await page.isDisabled('.send-btn'), true);

  // Sent: gone, here and after a reload.
  await sendText(page, 'half a thought, finished');
  await bubbles(page, 'half a thought, finished').waitFor();
  assert.equal(await page.inputValue('.composer-input'), '');
  await page.reload();
  await page.waitForSelector(`[data-open-conversation="${direct}"]`);
  await bubbles(page, 'half a thought, finished').waitFor();
  assert.equal(await page.inputValue('.composer-input'), '');

  // Emptied: gone too.
  await page.goto(`/#/c/${other.body.id}`);
  await page.waitForSelector(`[data-open-conversation="${other.body.id}"]`);
  await page.fill('.composer-input', '');
  await page.reload();
  await page.waitForSelector(`[data-open-conversation="${other.body.id}"]`);
  assert.equal(await page.inputValue('.composer-input'), '');

  // Log-out clears every draft of the user.
  await page.fill('.composer-input', 'left behind');
  await page.click('button[data-action=logout]');
  await page.waitForSelector('form[data-form=login]');
  const left = await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('kanect.draft.')));
  assert.deepEqual(left, []);
  assertClean(page);
}));

test('Esc closes each dialog and cancels an edit; ↑ in the empty composer edits my last message', () => withServer(async ({ server, browser }) => {
  const { alice, bob, direct } = await aliceAndBob(server);
  const group = await rest(server.url, 'POST', '/conversations', { name: 'Trail crew', members: [bob.user.id] }, alice.token);
  assert.equal(group.status, 201, JSON.stringify(group.body));
  const page = await newUserPage(browser, server.url);
  await logIn(page, 'alice');

  // New group.
  await page.click('button[data-action=new-group]');
  await page.waitForSelector('dialog[data-dialog=new-group][open]');
  await page.keyboard.press('Escape');
  await page.waitForSelector('dialog[data-dialog=new-group]', { state: 'detached' });
  // New group, after typing in its people filter.
  await page.click('button[data-action=new-group]');
  await page.fill('dialog[data-dialog=new-group] input.filter', 'bo');
  await page.keyboard.press('Escape');
  await page.keyboard.press('Escape');
  await page.waitForSelector('dialog[data-dialog=new-group]', { state: 'detached' });

  // Group details (where the group is renamed), focus in the name field.
  await page.goto(`/#/c/${group.body.id}`);
  await page.click('button[data-action=group-info]');
  await page.waitForSelector('dialog[data-dialog=group-info][open]');
  await page.focus('#rename');
  await page.keyboard.press('Escape');
  await page.waitForSelector('dialog[data-dialog=group-info]', { state: 'detached' });

  // ↑ in the empty composer: my last message (not a deleted one) opens for editing.
  await page.goto(`/#/c/${direct}`);
  await sendText(page, 'first words');
  await sendText(page, 'second words');
  await sendText(page, 'third words');
  await bubbles(page, 'third words').waitFor();
  await page.waitForFunction(() => [...document.querySelectorAll('.msg.mine')].every((r) => r.dataset.id));
  // Delete "third words" (the confirm dialog closes with Esc first, deleting nothing).
  const third = page.locator('.msg.mine', { hasText: 'third words' });
  await third.hover();
  await third.locator('button[data-action=delete]').click();
  await page.waitForSelector('dialog[data-dialog=confirm][open]');
  await page.keyboard.press('Escape');
  await page.waitForSelector('dialog[data-dialog=confirm]', { state: 'detached' });
  assert.equal(await bubbles(page, 'third words').count(), 1);
  await third.hover();
  await third.locator('button[data-action=delete]').click();
  await page.click('dialog[data-dialog=confirm] button[data-action=confirm]');
  await page.waitForSelector('.msg.is-deleted');

  // ↑ in a composer with text: nothing.
  await page.fill('.composer-input', 'not empty');
  await page.press('.composer-input', 'ArrowUp');
  assert.equal(await page.locator('.edit-box').count(), 0);
  await page.fill('.composer-input', '');
  await page.press('.composer-input', 'ArrowUp');
  const box = page.locator('.msg.editing .edit-input');
  await box.waitFor();
  assert.equal(await box.inputValue(), 'second words');
  assert.equal(await box.evaluate((el) => el === document.activeElement), true);
  await shot(page, 'chatnav-arrowup-edit-desktop');

  // Esc cancels it, and the composer has the focus back.
  await page.keyboard.press('Escape');
  await page.locator('.edit-box').waitFor({ state: 'detached' });
  assert.equal(await bubbles(page, 'second words').count(), 1);
  assert.equal(await page.evaluate(() => document.activeElement.classList.contains('composer-input')), true);

  // Esc also cancels an edit when the focus has left the box (in the pane).
  await page.press('.composer-input', 'ArrowUp');
  await box.waitFor();
  await page.focus('.messages');
  await page.keyboard.press('Escape');
  await page.locator('.edit-box').waitFor({ state: 'detached' });

  // And the edit goes through with Enter.
  await page.press('.composer-input', 'ArrowUp');
  await box.waitFor();
  await box.fill('second words, edited');
  await box.press('Enter');
  await bubbles(page, 'second words, edited').waitFor();
  assertClean(page);
}));
