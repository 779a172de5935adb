// Screenshots of every screen at desktop (1280×800) and phone (390×844) widths, in
// target/e2e-screenshots/, with a realistic set of people and conversations. The test also
// checks the phone layout shows one pane at a time with a working back button.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { apiSignup, assertClean, bubbles, logIn, newUserPage, rest, sendText, shot, withServer } from './harness.js';

const PHONE = { width: 390, height: 844 };

async function say(server, token, conversation, body, n) {
  const res = await rest(server.url, 'POST', `/conversations/${conversation}/messages`, { client_id: `shot-${n}`, body }, token);
  assert.equal(res.status, 200);
  return res.body;
}

test('screenshots at desktop and phone widths; the phone shows one pane at a time', () => withServer(async ({ server, browser }) => {
  const alice = await apiSignup(server.url, 'alice', 'a calm river 42', { display_name: 'Alice Martin' });
  const bob = await apiSignup(server.url, 'bob', 'a calm river 42', { display_name: 'Bob Stone' });
  const carol = await apiSignup(server.url, 'carol', 'a calm river 42', { display_name: 'Carol Diaz' });
  await apiSignup(server.url, 'dan.okafor', 'a calm river 42');
  await apiSignup(server.url, 'eve', 'a calm river 42', { display_name: 'Eve Laurent' });

  const direct = (await rest(server.url, 'POST', '/conversations/direct', { user: alice.user.id }, bob.token)).body;
  const group = (await rest(server.url, 'POST', '/conversations', { name: 'Weekend trip', members: [alice.user.id, bob.user.id] }, carol.token)).body;
  let n = 0;
  await say(server, carol.token, group.id, 'Who is up for the lake on Saturday?', n++);
  await say(server, bob.token, group.id, 'Me! I can drive, there is room for four.', n++);
  await say(server, alice.token, group.id, 'Count me in. I will bring sandwiches.', n++);
  await say(server, carol.token, group.id, 'Perfect. Leaving at 9 from the station?', n++);
  await say(server, bob.token, direct.id, 'Hey Alice, did you get the tickets for Friday?', n++);
  await say(server, alice.token, direct.id, 'Yes! Two seats, row F.\nDoors open at 19:30.', n++);
  await say(server, bob.token, direct.id, 'Great, see you at the entrance then.', n++);

  // Bob is online in his own browser, reading the direct conversation.
  const bobPage = await newUserPage(browser, server.url);
  await logIn(bobPage, 'bob');
  await bobPage.locator(`.list .item[data-conversation="${direct.id}"]`).click();

  // Log-in screen.
  const page = await newUserPage(browser, server.url);
  await page.goto('/#/login');
  await page.waitForSelector('form[data-form=login]');
  await shot(page, 'login-desktop');
  await logIn(page, 'alice');
  await page.locator(`.list .item[data-conversation="${group.id}"] .badge`).waitFor();
  await shot(page, 'home-desktop');

  // Direct chat, with read marks and Bob typing.
  await page.locator(`.list .item[data-conversation="${direct.id}"]`).click();
  await sendText(page, 'Perfect, thanks!');
  await page.locator('.msg.mine[data-status=read]').last().waitFor();
  await bobPage.locator('.composer-input').pressSequentially('On my', { delay: 30 });
  await page.waitForSelector('.typing-row.on');
  await shot(page, 'chat-desktop');
  await page.emulateMedia({ colorScheme: 'dark' });
  await shot(page, 'chat-desktop-dark');
  await page.emulateMedia({ colorScheme: 'light' });

  // Group chat and its details.
  await page.locator(`.list .item[data-conversation="${group.id}"]`).click();
  await bubbles(page, 'Perfect. Leaving at 9 from the station?').waitFor();
  await shot(page, 'group-desktop');
  await page.click('button[data-action=group-info]');
  await page.waitForSelector('.dialog[data-dialog=group-info]');
  await shot(page, 'group-info-desktop');
  await page.keyboard.press('Escape');
  await page.click('button[data-action=new-group]');
  await page.waitForSelector('.dialog[data-dialog=new-group]');
  await page.fill('#group-name', 'Book club');
  await page.locator('.pick[data-username=eve] input').check();
  await shot(page, 'new-group-desktop');
  await page.keyboard.press('Escape');

  // Phone width: the list alone, then the chat alone with a back button.
  await page.setViewportSize(PHONE);
  await page.goto('/#/');
  await page.waitForSelector('.shell[data-pane=list]');
  assert.ok(await page.locator('.sidebar').isVisible());
  assert.ok(!(await page.locator('.pane').isVisible()));
  await shot(page, 'home-phone');
  await page.locator(`.list .item[data-conversation="${direct.id}"]`).click();
  await page.waitForSelector('.shell[data-pane=chat]');
  assert.ok(!(await page.locator('.sidebar').isVisible()));
  assert.ok(await page.locator('a[data-action=back]').isVisible());
  await bubbles(page, 'Perfect, thanks!').waitFor();
  await shot(page, 'chat-phone');
  await page.click('a[data-action=back]');
  await page.waitForSelector('.shell[data-pane=list]');
  assert.ok(await page.locator('.sidebar').isVisible());

  await page.click('button[data-action=logout]');
  await page.waitForSelector('form[data-form=login]');
  await shot(page, 'login-phone');
  assertClean(page, bobPage);
}));
