// System lines (a group's changes, kept in its history) and "Seen by" under my messages in a
// group: both live and after a reload, as each member sees them.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { apiSignup, assertClean, bubbles, logIn, newUserPage, rest, sendText, shot, signUp, uniqueName, withServer } from './harness.js';
import { seenByText } from '../../kanect-http/web/seen-by.js';
import { isSystemLine, systemLineText } from '../../kanect-http/web/system-lines.js';

const XSS = '<img src=x onerror=alert(1)>';

/** The texts of the system lines in the open conversation, in order. */
function lines(page) {
  return page.locator('.messages .sysline .sysline-text').allTextContents();
}

/** The sidebar preview of the (only) group. */
function groupPreview(page) {
  return page.locator('.list .item[data-kind=group] .item-sub');
}

/** My message row whose text is `text`. */
function mineWith(page, text) {
  return page.locator('.messages .msg.mine').filter({ has: page.locator('.msg-body', { hasText: text }) });
}

async function openGroupInfo(page) {
  await page.click('button[data-action=group-info]');
  await page.locator('.dialog').waitFor();
}

test('the words of each kind of line, "You" and "you" for me, and a kind this app does not know', () => {
  const names = { a: 'Alice Martin', b: 'Bob Stone' };
  const text = (sender, event, me = 'z') => systemLineText({ sender, body: '', event }, me, (id) => names[id] || 'Unknown');
  assert.equal(text('a', { kind: 'created', name: 'Lunch' }), 'Alice Martin created the group “Lunch”');
  assert.equal(text('a', { kind: 'created', name: 'Lunch' }, 'a'), 'You created the group “Lunch”');
  assert.equal(text('a', { kind: 'renamed', name: 'Lunch crew' }), 'Alice Martin renamed the group to “Lunch crew”');
  assert.equal(text('a', { kind: 'added', user: 'b' }), 'Alice Martin added Bob Stone');
  assert.equal(text('a', { kind: 'added', user: 'b' }, 'b'), 'Alice Martin added you');
  assert.equal(text('a', { kind: 'removed', user: 'b' }, 'a'), 'You removed Bob Stone');
  assert.equal(text('b', { kind: 'left' }), 'Bob Stone left');
  assert.equal(text('a', { kind: 'archived' }), 'The group changed');
  assert.equal(text('a', {}), 'The group changed');
  assert.equal(isSystemLine({ body: 'hi' }), false);
  assert.equal(isSystemLine({ body: '', event: { kind: 'left' } }), true);
});

test('"Seen by" names up to three readers, then "and N others", or "everyone"', () => {
  assert.deepEqual(seenByText(['Bob'], false), { short: 'Seen by Bob', full: 'Seen by Bob' });
  assert.equal(seenByText(['Bob', 'Carol'], true).short, 'Seen by Bob and Carol');
  assert.equal(seenByText(['Bob', 'Carol', 'Dave'], true).short, 'Seen by Bob, Carol and Dave');
  assert.deepEqual(seenByText(['Bob', 'Carol', 'Dave', 'Eve'], false),
    { short: 'Seen by Bob, Carol and 2 others', full: 'Seen by Bob, Carol, Dave, Eve' });
  assert.equal(seenByText(['Bob', 'Carol', 'Dave', 'Eve'], true).short, 'Seen by everyone');
});

test('system lines: created, renamed, added, removed and left, live and after a reload, "You" for mine, text only, never unread', () => withServer(async ({ server, browser }) => {
  const b = uniqueName('bob');
  const c = uniqueName('carol');
  await apiSignup(server.url, b, 'a calm river 42', { display_name: 'Bob Stone' });
  await apiSignup(server.url, c, 'a calm river 42', { display_name: 'Carol Diaz' });
  const alice = await newUserPage(browser, server.url);
  const bob = await newUserPage(browser, server.url);
  let dialogs = 0;
  for (const page of [alice, bob]) page.on('dialog', (d) => { dialogs += 1; d.dismiss().catch(() => {}); });
  await signUp(alice, { username: uniqueName('alice'), displayName: 'Alice Martin' });
  await logIn(bob, b);

  // Alice creates a group whose name is markup: the line shows it as text.
  await alice.click('button[data-action=new-group]');
  await alice.fill('#group-name', XSS);
  await alice.locator(`.pick[data-username="${b}"] input`).check();
  await alice.click('button[data-action=create-group]');
  await alice.locator('.chat-title').filter({ hasText: XSS }).waitFor();
  await alice.locator('.sysline[data-seq="1"][data-event=created]').waitFor();
  assert.deepEqual(await lines(alice), [`You created the group “${XSS}”`]);
  // The beginning of the conversation is still said; a line takes no actions, and is no bubble.
  await alice.locator('.history-start').waitFor();
  assert.equal(await alice.locator('.messages .sysline button').count(), 0);
  assert.equal(await alice.locator('.messages .msg').count(), 0);

  // Bob, elsewhere in the app: the group comes with the line as its preview, and nothing unread.
  await groupPreview(bob).filter({ hasText: `Alice Martin created the group “${XSS}”` }).waitFor();
  assert.equal(await bob.locator('.list .item[data-kind=group] [data-unread]').count(), 0);
  assert.equal(await bob.title(), 'Kanect');

  // Renamed: a new line, live for Bob in his list, still not unread.
  await openGroupInfo(alice);
  await alice.fill('#rename', 'Lunch crew');
  await alice.click('button[data-action=rename]');
  await groupPreview(bob).filter({ hasText: 'Alice Martin renamed the group to “Lunch crew”' }).waitFor();
  await alice.keyboard.press('Escape');
  assert.equal(await bob.locator('.list .item[data-kind=group] [data-unread]').count(), 0);
  assert.equal(await bob.title(), 'Kanect');

  // A message after the line: one unread, and Bob opens on the divider above it, not above a line.
  await sendText(alice, 'Noodles at noon?');
  await bob.locator('.list .item[data-kind=group] [data-unread="1"]').waitFor();
  assert.equal(await bob.title(), '(1) Kanect');
  await bob.locator('.list .item[data-kind=group]').click();
  await bubbles(bob, 'Noodles at noon?').waitFor();
  const divider = bob.locator('[data-new-divider]');
  await divider.waitFor();
  assert.equal(await divider.evaluate((el) => el.nextElementSibling.classList.contains('msg')), true);
  assert.deepEqual(await lines(bob), [`Alice Martin created the group “${XSS}”`, 'Alice Martin renamed the group to “Lunch crew”']);

  // Added and removed: live on Bob's open pane, "You" on Alice's.
  await openGroupInfo(alice);
  await alice.locator(`.dialog .pick[data-username="${c}"] input`).check();
  await alice.click('button[data-action=add-members]');
  await alice.locator(`.dialog .member[data-username="${c}"]`).waitFor();
  await bob.locator('.sysline', { hasText: 'Alice Martin added Carol Diaz' }).waitFor();
  await alice.locator(`.dialog .member[data-username="${c}"] button[data-action=remove-member]`).click();
  await alice.locator(`.dialog .member[data-username="${c}"]`).waitFor({ state: 'detached' });
  await alice.keyboard.press('Escape');
  await bob.locator('.sysline', { hasText: 'Alice Martin removed Carol Diaz' }).waitFor();
  await alice.locator('.sysline', { hasText: 'You removed Carol Diaz' }).waitFor();
  // The pane was open: nothing unread for Bob, and the lines did not start a typing row or a badge.
  assert.equal(await bob.title(), 'Kanect');

  // Bob writes, then leaves: Alice sees him go, in her pane and her list.
  await sendText(bob, 'See you there');
  await bubbles(alice, 'See you there').waitFor();
  await openGroupInfo(bob);
  await bob.click('.dialog button[data-action=leave]');
  await bob.click('.dialog button[data-action=confirm]');
  await bob.waitForSelector('.welcome');
  await alice.locator('.sysline', { hasText: 'Bob Stone left' }).waitFor();
  await groupPreview(alice).filter({ hasText: 'Bob Stone left' }).waitFor();
  // The message after a line starts a new group of bubbles (Bob's name shows again).
  const expected = [
    `You created the group “${XSS}”`,
    'You renamed the group to “Lunch crew”',
    'You added Carol Diaz',
    'You removed Carol Diaz',
    'Bob Stone left',
  ];
  assert.deepEqual(await lines(alice), expected);
  await shot(alice, 'system-lines-desktop');

  // After a reload: the same lines, in their place among the messages.
  await alice.reload();
  await alice.locator('.sysline[data-event=left]').waitFor();
  assert.deepEqual(await lines(alice), expected);
  const order = await alice.locator('.messages-inner > .sysline, .messages-inner > .msg').evaluateAll((els) => els.map((el) => el.dataset.seq));
  assert.deepEqual(order, ['1', '2', '3', '4', '5', '6', '7']);
  // A line is no text of mine: ↑ in the empty composer edits my message, not a line.
  await alice.locator('.composer-input').focus();
  await alice.keyboard.press('ArrowUp');
  assert.equal(await alice.locator('.edit-input').inputValue(), 'Noodles at noon?');
  await alice.keyboard.press('Escape');

  assert.equal(await alice.locator('.messages img').count(), 0);
  assert.equal(dialogs, 0);
  assertClean(alice, bob);
}));

test('the phone width shows system lines on one centred line', () => withServer(async ({ server, browser }) => {
  const alice = await apiSignup(server.url, uniqueName('alice'), 'a calm river 42', { display_name: 'Alice Martin' });
  const bob = await apiSignup(server.url, uniqueName('bob'), 'a calm river 42', { display_name: 'Bob Stone' });
  const group = (await rest(server.url, 'POST', '/conversations', { name: 'Lunch', members: [bob.user.id] }, alice.token)).body;
  assert.equal((await rest(server.url, 'PATCH', `/conversations/${group.id}`, { name: 'Lunch crew' }, alice.token)).status, 200);
  const page = await newUserPage(browser, server.url, { width: 390, height: 844 });
  await logIn(page, bob.user.username);
  await page.goto(`/#/c/${group.id}`);
  await page.locator('.sysline[data-event=renamed]').waitFor();
  assert.deepEqual(await lines(page), ['Alice Martin created the group “Lunch”', 'Alice Martin renamed the group to “Lunch crew”']);
  const box = await page.locator('.sysline-text').first().boundingBox();
  const pane = await page.locator('.messages').boundingBox();
  assert.ok(Math.abs(box.x + box.width / 2 - (pane.x + pane.width / 2)) < 12, 'centred');
  assert.ok(box.height < 24, 'one line');
  await shot(page, 'system-lines-phone');
  assertClean(page);
}));

test('"Seen by" in a group: who read my newest message they read, live as each reads, after a reload too; direct conversations keep their ticks', () => withServer(async ({ server, browser }) => {
  const a = uniqueName('alice');
  const aliceId = (await apiSignup(server.url, a, 'a calm river 42', { display_name: 'Alice Martin' })).user.id;
  const bob = await apiSignup(server.url, uniqueName('bob'), 'a calm river 42', { display_name: 'Bob Stone' });
  const carol = await apiSignup(server.url, uniqueName('carol'), 'a calm river 42', { display_name: 'Carol Diaz' });
  const dave = await apiSignup(server.url, uniqueName('dave'), 'a calm river 42', { display_name: 'Dave Ng' });
  const alice = await newUserPage(browser, server.url);
  await logIn(alice, a);
  const group = (await rest(server.url, 'POST', '/conversations', { name: 'Lunch', members: [aliceId, carol.user.id, dave.user.id] }, bob.token)).body;
  await alice.goto(`/#/c/${group.id}`);
  await alice.locator('.sysline[data-event=created]').waitFor();

  await sendText(alice, 'Noodles?');
  await sendText(alice, 'Or ramen?');
  const first = mineWith(alice, 'Noodles?');
  const second = mineWith(alice, 'Or ramen?');
  await alice.waitForFunction(() => document.querySelectorAll('.msg.mine[data-seq]').length === 2);
  const seq1 = Number(await first.getAttribute('data-seq'));
  const seq2 = Number(await second.getAttribute('data-seq'));
  assert.equal(seq2, seq1 + 1);
  // Nobody has read anything: no "Seen by". A line of nobody's text never gets one either.
  assert.equal(await alice.locator('[data-read-by]').count(), 0);

  // Bob reads the first: "Seen by Bob Stone" under it.
  assert.equal((await rest(server.url, 'POST', `/conversations/${group.id}/receipts`, { kind: 'read', seq: seq1 }, bob.token)).status, 200);
  const seen = alice.locator('[data-read-by]');
  await alice.locator(`.read-by-row[data-read-by-seq="${seq1}"]`).waitFor();
  assert.equal(await seen.textContent(), 'Seen by Bob Stone');
  assert.equal(await seen.getAttribute('title'), 'Seen by Bob Stone');

  // Carol, in her browser, opens the group (reading both): the line moves under the second, hers.
  const carolPage = await newUserPage(browser, server.url, { width: 390, height: 844 });
  await logIn(carolPage, carol.user.username);
  await carolPage.goto(`/#/c/${group.id}`);
  await bubbles(carolPage, 'Or ramen?').waitFor();
  await alice.locator(`.read-by-row[data-read-by-seq="${seq2}"]`).waitFor();
  assert.equal(await seen.count(), 1);
  assert.equal(await seen.textContent(), 'Seen by Carol Diaz');

  // Bob reads on: both names, by name order; then Dave: everyone (three names, as there are).
  await rest(server.url, 'POST', `/conversations/${group.id}/receipts`, { kind: 'read', seq: seq2 }, bob.token);
  await seen.filter({ hasText: 'Seen by Bob Stone and Carol Diaz' }).waitFor();
  await rest(server.url, 'POST', `/conversations/${group.id}/receipts`, { kind: 'read', seq: seq2 }, dave.token);
  await seen.filter({ hasText: 'Seen by Bob Stone, Carol Diaz and Dave Ng' }).waitFor();
  // In a group the tick stops at delivered: who read it is the "Seen by" line's to say.
  assert.equal(await second.getAttribute('data-status'), 'delivered');
  // A click lists every name (phones have no tooltip).
  await seen.click();
  assert.equal(await seen.getAttribute('aria-expanded'), 'true');
  assert.equal(await seen.textContent(), 'Seen by Bob Stone, Carol Diaz, Dave Ng');
  await shot(alice, 'read-by-desktop');

  // A reload reads the marks from the conversation's receipts.
  await alice.reload();
  await alice.locator(`.read-by-row[data-read-by-seq="${seq2}"]`).waitFor();
  assert.equal(await seen.textContent(), 'Seen by Bob Stone, Carol Diaz and Dave Ng');

  // Carol's phone: her own messages have none yet; Alice's have no "Seen by" on Carol's side.
  assert.equal(await carolPage.locator('[data-read-by]').count(), 0);
  await sendText(carolPage, 'Ramen!');
  await bubbles(alice, 'Ramen!').waitFor();
  await carolPage.locator('.read-by-row').waitFor();
  assert.equal(await carolPage.locator('[data-read-by]').textContent(), 'Seen by Alice Martin');
  await shot(carolPage, 'read-by-phone');

  // A direct conversation keeps its ticks, with no "Seen by".
  const direct = (await rest(server.url, 'POST', '/conversations/direct', { user: aliceId }, bob.token)).body;
  await alice.goto(`/#/c/${direct.id}`);
  await sendText(alice, 'Just you and me');
  const mine = mineWith(alice, 'Just you and me');
  await alice.waitForFunction(() => document.querySelector('.msg.mine[data-seq]'));
  const seq = Number(await mine.getAttribute('data-seq'));
  await rest(server.url, 'POST', `/conversations/${direct.id}/receipts`, { kind: 'read', seq }, bob.token);
  await alice.locator('.msg.mine[data-status=read]').waitFor();
  assert.equal(await alice.locator('[data-read-by]').count(), 0);
  assertClean(alice, carolPage);
}));
