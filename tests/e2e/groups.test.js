// Groups (create, name, add members, rename) and message actions (edit, delete), live on the
// other members' screens.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { apiSignup, assertClean, bubbles, newUserPage, sendText, signUp, uniqueName, withServer } from './harness.js';

test('create a group, name it, add members, rename it; edit and delete a message, all live', () => withServer(async ({ server, browser }) => {
  const alice = await newUserPage(browser, server.url);
  const bob = await newUserPage(browser, server.url);
  const b = uniqueName('bob');
  const c = uniqueName('carol');
  await signUp(bob, { username: b, displayName: 'Bob Stone' });
  await apiSignup(server.url, c, 'a calm river 42', { display_name: 'Carol Diaz' });
  await signUp(alice, { username: uniqueName('alice'), displayName: 'Alice Martin' });

  // Alice creates "Weekend plans" with Bob.
  await alice.click('button[data-action=new-group]');
  await alice.fill('#group-name', 'Weekend plans');
  await alice.locator(`.pick[data-username="${b}"] input`).check();
  await alice.click('button[data-action=create-group]');
  await alice.waitForSelector('.chat-title:text("Weekend plans")');
  await sendText(alice, 'Hiking on Saturday?');
  await bubbles(alice, 'Hiking on Saturday?').waitFor();

  // Bob sees the group appear and the message, with Alice's name above it.
  const group = bob.locator('.list .item[data-kind=group]');
  await group.waitFor();
  assert.equal(await group.locator('.item-title').textContent(), 'Weekend plans');
  await group.click();
  await bubbles(bob, 'Hiking on Saturday?').waitFor();
  assert.equal(await bob.locator('.msg.theirs .msg-sender').first().textContent(), 'Alice Martin');

  // Alice renames it and adds Carol; Bob's screen follows.
  await alice.click('button[data-action=group-info]');
  await alice.fill('#rename', 'Weekend trip');
  await alice.click('button[data-action=rename]');
  await bob.waitForSelector('.chat-title:text("Weekend trip")');
  await alice.locator(`.dialog .pick[data-username="${c}"] input`).check();
  await alice.click('button[data-action=add-members]');
  await alice.locator(`.dialog .member[data-username="${c}"]`).waitFor();
  await alice.keyboard.press('Escape');
  await bob.waitForSelector('.chat-sub:text("3 members")');

  // Alice edits her message: Bob sees the new text marked "edited".
  await alice.locator('.msg.mine').first().hover();
  await alice.click('.msg.mine button[data-action=edit]');
  await alice.fill('.edit-input', 'Hiking on Sunday instead?');
  await alice.press('.edit-input', 'Enter');
  await bubbles(bob, 'Hiking on Sunday instead?').waitFor();
  await bob.locator('.msg.theirs .msg-edited').waitFor();

  // Then deletes it: gone for both, replaced by a notice.
  await alice.locator('.msg.mine').first().hover();
  await alice.click('.msg.mine button[data-action=delete]');
  await alice.click('.dialog button[data-action=confirm]');
  await bob.locator('.msg.theirs .msg-body.deleted').waitFor();
  assert.equal(await bubbles(bob, 'Hiking on Sunday instead?').count(), 0);
  assert.equal(await alice.locator('.msg.mine .msg-body.deleted').count(), 1);

  // A send the server refuses shows why, with Retry and Discard.
  await sendText(alice, 'ring the bell \u0007 now');
  const failed = alice.locator('.msg.mine[data-status=failed]');
  await failed.waitFor();
  assert.equal(await failed.locator('.msg-failed > span').textContent(), 'Messages cannot contain control characters.');
  await failed.locator('button[data-action=discard]').click();
  await failed.waitFor({ state: 'detached' });

  // Alice removes Carol again; then Bob leaves: the group leaves his list, Alice sees 1 member.
  await alice.click('button[data-action=group-info]');
  await alice.locator(`.dialog .member[data-username="${c}"] button[data-action=remove-member]`).click();
  await alice.locator(`.dialog .member[data-username="${c}"]`).waitFor({ state: 'detached' });
  await alice.keyboard.press('Escape');
  await bob.waitForSelector('.chat-sub:text("2 members")');
  await bob.click('button[data-action=group-info]');
  await bob.click('.dialog button[data-action=leave]');
  await bob.click('.dialog button[data-action=confirm]');
  await bob.waitForSelector('.welcome');
  assert.equal(await bob.locator('.list .item[data-kind=group]').count(), 0);
  await alice.waitForSelector('.chat-sub:text("1 member ·")');
  // An old link to the group no longer opens it for Bob.
  const groupId = await alice.locator('.chat').getAttribute('data-open-conversation');
  await bob.goto(`/#/c/${groupId}`);
  await bob.waitForSelector('.toast:text("That conversation is not available.")');
  await bob.waitForSelector('.welcome');
  assertClean(alice, bob);
}));

test('history loads as you scroll up, oldest first, without duplicates', () => withServer(async ({ server, browser }) => {
  const a = uniqueName('alice');
  const alice = await apiSignup(server.url, a);
  const bob = await apiSignup(server.url, uniqueName('bob'));
  const conv = await (await fetch(`${server.url}/api/v1/conversations/direct`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${bob.token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ user: alice.user.id }),
  })).json();
  const total = 120;
  for (let i = 1; i <= total; i++) {
    const res = await fetch(`${server.url}/api/v1/conversations/${conv.id}/messages`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${i % 3 ? bob.token : alice.token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ client_id: `seed-${i}`, body: `message number ${i}` }),
    });
    assert.equal(res.status, 200);
  }
  const page = await newUserPage(browser, server.url);
  await page.goto('/#/login');
  await page.fill('#username', a);
  await page.fill('#password', 'a calm river 42');
  await page.click('form[data-form=login] button[type=submit]');
  const item = page.locator(`.list .item[data-conversation="${conv.id}"]`);
  await item.waitFor();
  await item.locator('.badge').waitFor();
  await item.click();
  await bubbles(page, `message number ${total}`).waitFor();
  assert.equal(await page.locator('.messages .msg').count(), 50);

  // Scrolling to the top loads the page before, and the view stays on the message it showed.
  await page.locator('.messages').evaluate((el) => { el.scrollTop = 0; });
  await page.waitForFunction(() => document.querySelectorAll('.messages .msg').length === 100, null, { timeout: 10_000 });
  const inView = await page.evaluate(() => {
    const scroller = document.querySelector('.messages');
    const row = [...document.querySelectorAll('.messages .msg')].find((m) => m.textContent.includes('message number 71'));
    const a = scroller.getBoundingClientRect();
    const b = row.getBoundingClientRect();
    return b.top >= a.top - 1 && b.top < a.top + a.height / 2;
  });
  assert.ok(inView, 'the message that was at the top is still in view after older ones load');

  for (let round = 0; round < 10 && (await page.locator('.messages .msg').count()) < total; round++) {
    await page.locator('.messages').evaluate((el) => { el.scrollTop = 0; });
    await page.waitForTimeout(300);
  }
  await page.locator('.history-start').waitFor();
  const texts = await page.locator('.messages .msg .msg-body').allTextContents();
  assert.deepEqual(texts, Array.from({ length: total }, (_, i) => `message number ${i + 1}`));
  assertClean(page);
}));
