// Reactions (issue 22) in a real browser: a quick reaction from a message's React action, its
// chip on the other side live (who reacted in its tooltip), a click on a chip joining or taking
// back, any emoji through the picker's field, and the server's refusals (not one emoji; the
// 21st different emoji) as toasts. Screenshots at desktop and phone widths.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { aliceAndBob, assertClean, logIn, newUserPage, rest, shot, withServer } from './harness.js';

const PHONE = { width: 390, height: 844 };

/** 20 different emoji (the most one message may carry). */
const TWENTY = ['😀', '😁', '😅', '😇', '😉', '😊', '😋', '😎', '😍', '😘', '🙂', '🤗', '🤩', '🤔', '🤨', '😐', '😑', '😶', '🙄', '😏'];

/** Sends a message through the REST API; resolves with the stored message. */
async function say(server, user, conversation, body) {
  const res = await rest(server.url, 'POST', `/conversations/${conversation}/messages`,
    { client_id: `c-${Math.random().toString(36).slice(2)}`, body }, user.token);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

/** The row of message `id`. */
function row(page, id) {
  return page.locator(`.messages .msg[data-id="${id}"]`);
}

/** The chips of message `id`: `[{emoji, count, pressed, title}]`. */
function chips(page, id) {
  return row(page, id).locator('.reactions .chip').evaluateAll((els) => els.map((el) => ({
    emoji: el.dataset.emoji, count: Number(el.querySelector('.chip-count').textContent), pressed: el.getAttribute('aria-pressed'), title: el.title,
  })));
}

/** Waits until message `id`'s chips are `want` (`[[emoji, count, pressed]]`). */
async function waitChips(page, id, want) {
  const deadline = Date.now() + 10_000;
  let got;
  for (;;) {
    got = (await chips(page, id)).map((c) => [c.emoji, c.count, c.pressed === 'true']);
    if (JSON.stringify(got) === JSON.stringify(want)) return;
    if (Date.now() > deadline) assert.deepEqual(got, want);
    await page.waitForTimeout(100);
  }
}

/** Opens message `id`'s reaction picker (a tap first on a phone). */
async function openPicker(page, id, { tap = false } = {}) {
  const r = row(page, id);
  if (tap) await r.locator('.msg-body').click();
  else await r.hover();
  await r.locator('button[data-action=react]').click();
  await page.locator('[data-picker]').waitFor();
}

test('a quick reaction shows live on both sides, a chip toggles it, the field takes any emoji', () => withServer(async ({ server, browser }) => {
  const { alice, bob, direct } = await aliceAndBob(server);
  const m = await say(server, bob, direct, 'Pizza tonight?');
  const page = await newUserPage(browser, server.url);
  const bobPage = await newUserPage(browser, server.url, PHONE);
  await logIn(page, 'alice');
  await logIn(bobPage, 'bob');
  await page.goto(`/#/c/${direct}`);
  await bobPage.goto(`/#/c/${direct}`);
  await row(page, m.id).waitFor();
  await row(bobPage, m.id).waitFor();

  // The quick set.
  await openPicker(page, m.id);
  const quick = await page.locator('[data-picker] .picker-emoji').evaluateAll((els) => els.map((el) => el.dataset.emoji));
  assert.deepEqual(quick, ['👍', '❤️', '😂', '😮', '😢', '🎉']);
  await shot(page, 'reactions-picker-desktop');
  await page.click('[data-picker] .picker-emoji[data-emoji="👍"]');
  await page.locator('[data-picker]').waitFor({ state: 'detached' });
  await waitChips(page, m.id, [['👍', 1, true]]);
  // Bob's side, live: not his, and the tooltip names alice.
  await waitChips(bobPage, m.id, [['👍', 1, false]]);
  assert.equal((await chips(bobPage, m.id))[0].title, 'alice reacted with 👍');

  // Bob joins with a click on the chip: 2 on both sides.
  await row(bobPage, m.id).locator('.chip[data-emoji="👍"]').click();
  await waitChips(bobPage, m.id, [['👍', 2, true]]);
  await waitChips(page, m.id, [['👍', 2, true]]);
  assert.equal((await chips(page, m.id))[0].title, 'You and bob reacted with 👍');

  // Any emoji through the field (bob, on his phone).
  await openPicker(bobPage, m.id, { tap: true });
  await shot(bobPage, 'reactions-picker-phone');
  const box = await bobPage.locator('[data-picker]').boundingBox();
  assert.ok(box.x >= 0 && box.x + box.width <= PHONE.width, `the picker fits the phone's width: ${JSON.stringify(box)}`);
  await bobPage.fill('[data-picker] .picker-input', '🦄');
  await bobPage.press('[data-picker] .picker-input', 'Enter');
  await waitChips(page, m.id, [['👍', 2, true], ['🦄', 1, false]]);
  await waitChips(bobPage, m.id, [['👍', 2, true], ['🦄', 1, true]]);
  await shot(page, 'reactions-chips-desktop');
  await page.emulateMedia({ colorScheme: 'dark' });
  await shot(page, 'reactions-chips-desktop-dark');
  await page.emulateMedia({ colorScheme: 'light' });
  await shot(bobPage, 'reactions-chips-phone');

  // Alice takes hers back with a click on her chip: 1, not pressed, on both sides.
  await row(page, m.id).locator('.chip[data-emoji="👍"]').click();
  await waitChips(page, m.id, [['👍', 1, false], ['🦄', 1, false]]);
  await waitChips(bobPage, m.id, [['👍', 1, true], ['🦄', 1, true]]);
  // And a quick reaction she made already is taken back from the picker too.
  await openPicker(page, m.id);
  await page.click('[data-picker] .picker-emoji[data-emoji="❤️"]');
  await waitChips(page, m.id, [['👍', 1, false], ['🦄', 1, false], ['❤️', 1, true]]);
  await openPicker(page, m.id);
  assert.equal(await page.locator('[data-picker] .picker-emoji[data-emoji="❤️"]').getAttribute('class'), 'picker-emoji chip-mine');
  await page.click('[data-picker] .picker-emoji[data-emoji="❤️"]');
  await waitChips(page, m.id, [['👍', 1, false], ['🦄', 1, false]]);

  // Esc closes the picker, and the stored message agrees with what is shown.
  await openPicker(page, m.id);
  await page.keyboard.press('Escape');
  await page.locator('[data-picker]').waitFor({ state: 'detached' });
  const stored = await rest(server.url, 'GET', `/conversations/${direct}/messages`, undefined, alice.token);
  assert.deepEqual(stored.body.messages[0].reactions, [{ emoji: '👍', users: [bob.user.id] }, { emoji: '🦄', users: [bob.user.id] }]);
  // After a reload too.
  await page.reload();
  await waitChips(page, m.id, [['👍', 1, false], ['🦄', 1, false]]);
  assertClean(page, bobPage);
}));

test('refusals show as toasts: not one emoji, and a 21st different emoji', () => withServer(async ({ server, browser }) => {
  const { bob, direct } = await aliceAndBob(server);
  const m = await say(server, bob, direct, 'Rate my new haircut');
  const page = await newUserPage(browser, server.url);
  await logIn(page, 'alice');
  await page.goto(`/#/c/${direct}`);
  await row(page, m.id).waitFor();

  // Not an emoji.
  for (const text of ['abc', '👍👍']) {
    await openPicker(page, m.id);
    await page.fill('[data-picker] .picker-input', text);
    await page.click('[data-picker] button[data-action=react-other]');
    await page.locator('.toast-error', { hasText: 'That is not an emoji. React with one emoji (typed, pasted or picked).' }).waitFor();
    await page.locator('.toast').first().waitFor({ state: 'detached' });
  }
  assert.equal(await row(page, m.id).locator('.reactions').count(), 0);

  // 20 different emoji, the most a message may carry (alice's last one through the picker).
  for (const emoji of TWENTY.slice(0, 19)) {
    const res = await rest(server.url, 'PUT', `/messages/${m.id}/reactions/${encodeURIComponent(emoji)}`, undefined, bob.token);
    assert.equal(res.status, 200, JSON.stringify(res.body));
  }
  await openPicker(page, m.id);
  await page.fill('[data-picker] .picker-input', TWENTY[19]);
  await page.press('[data-picker] .picker-input', 'Enter');
  await page.waitForFunction((id) => document.querySelectorAll(`.msg[data-id="${id}"] .chip`).length === 20, m.id);
  // The 21st: refused, nothing changes.
  await openPicker(page, m.id);
  await page.click('[data-picker] .picker-emoji[data-emoji="🎉"]');
  await page.locator('.toast-error', { hasText: 'This message has the most different reactions it can take (20).' }).waitFor();
  await shot(page, 'reactions-limit-desktop');
  assert.equal(await row(page, m.id).locator('.chip').count(), 20);
  // Joining one of the 20 still works.
  await row(page, m.id).locator(`.chip[data-emoji="${TWENTY[0]}"]`).click();
  await page.waitForSelector(`.msg[data-id="${m.id}"] .chip[data-emoji="${TWENTY[0]}"][aria-pressed=true]`);

  // A phone: 20 chips wrap within the pane.
  await page.setViewportSize(PHONE);
  await page.waitForTimeout(300);
  await row(page, m.id).scrollIntoViewIfNeeded();
  const fits = await page.evaluate((id) => {
    const pane = document.querySelector('.messages').getBoundingClientRect();
    return [...document.querySelectorAll(`.msg[data-id="${id}"] .chip`)].every((c) => {
      const b = c.getBoundingClientRect();
      return b.left >= pane.left && b.right <= pane.right;
    });
  }, m.id);
  assert.ok(fits, 'every chip inside the pane');
  await shot(page, 'reactions-limit-phone');
  assertClean(page);
}));
