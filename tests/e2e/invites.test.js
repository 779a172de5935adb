// Sign-up modes, invites and the admin's account forms in a real browser, against the server
// binary started with `--sign-up invite|closed` (and `--users-may-invite`):
// - invite-only: the sign-up page says so without a link; an administrator makes an invite on
//   the admin Invites page and copies its link; a visitor opens it, is told they were invited,
//   and signs up; a forged link and, once revoked, the real one are refused in plain words;
//   the audit log shows the invite's making, use and revocation;
// - closed: the sign-up page says sign-ups are closed; the administrator makes an account with
//   "New user" and edits its display name and e-mail with "Edit", and the account logs in;
// - users may invite: a user's sidebar has "Invite people", whose dialog makes a link.
// Screenshots at desktop and phone widths.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  apiSignup, assertClean, createAdmin, logIn, newUserPage, rest, shot, waitConnected, withServer,
} from './harness.js';

const PHONE = { width: 390, height: 844 };
const ADMIN_PASSWORD = 'the admin password 7';

function withAdminServer(args, body) {
  return withServer(body, { args, prepare: (dataDir) => createAdmin(dataDir, 'root', ADMIN_PASSWORD) });
}

async function adminToken(server) {
  const res = await rest(server.url, 'POST', '/auth/login', { username: 'root', password: ADMIN_PASSWORD });
  assert.equal(res.status, 200);
  return res.body.token;
}

/** Saves a screenshot once the toasts are gone. */
async function calmShot(page, name) {
  await page.waitForFunction(() => !document.querySelector('#toasts .toast'), null, { timeout: 8000 });
  await shot(page, name);
}

/** Fills and sends the sign-up form (the page shows it already). */
async function fillSignup(page, username, displayName) {
  await page.fill('#username', username);
  if (displayName) await page.fill('#display_name', displayName);
  await page.fill('#password', 'a calm river 42');
  await page.click('form[data-form=signup] button[type=submit]');
}

test('invite-only: an admin makes an invite link, a visitor signs up with it, bad links are refused plainly', () => withAdminServer(['--sign-up', 'invite'], async ({ server, browser }) => {
  // Without an invite, the sign-up page says how to get in, and shows no form.
  const visitor = await newUserPage(browser, server.url);
  await visitor.goto('/#/signup');
  await visitor.locator('[data-signup=invite-required]').waitFor();
  assert.equal(await visitor.locator('form[data-form=signup]').count(), 0);
  await shot(visitor, 'invites-signup-required-desktop');

  // The administrator makes an invite for two sign-ups on the Invites page.
  const admin = await newUserPage(browser, server.url);
  await logIn(admin, 'root', ADMIN_PASSWORD);
  await admin.goto('/#/admin/invites');
  await admin.locator('[data-admin=invites] .list-empty').waitFor();
  await admin.fill('#invite-uses', '2');
  await admin.selectOption('#invite-lifetime', String(7 * 86400));
  await admin.click('[data-action=make-invite]');
  const link = await admin.locator('[data-invite-link]').inputValue();
  assert.match(link, /#\/invite\/[0-9a-f]{64}$/);
  await admin.locator('[data-admin=invites] .invite-row[data-state=active]').waitFor();
  assert.match(await admin.locator('[data-admin=invites] .invite-uses').textContent(), /2 of 2 sign-ups left/);
  await calmShot(admin, 'invites-admin-desktop');

  // The visitor opens the link: told they were invited, signs up, and is in.
  await visitor.goto(link.slice(link.indexOf('/#/')));
  await visitor.locator('[data-signup=invited]').waitFor();
  assert.match(await visitor.locator('[data-signup=invited]').textContent(), /2 more sign-ups/);
  await shot(visitor, 'invites-signup-invited-desktop');
  await visitor.setViewportSize(PHONE);
  await shot(visitor, 'invites-signup-invited-phone');
  await visitor.setViewportSize({ width: 1280, height: 800 });
  await fillSignup(visitor, 'nina', 'Nina Invited');
  await visitor.waitForSelector('.shell', { timeout: 15_000 });
  await waitConnected(visitor);

  // The list shows one use taken.
  await admin.reload();
  await admin.locator('[data-admin=invites] .invite-row').waitFor();
  assert.match(await admin.locator('[data-admin=invites] .invite-uses').textContent(), /1 of 2 sign-ups left/);
  await admin.setViewportSize(PHONE);
  await calmShot(admin, 'invites-admin-phone');
  assert.equal(await admin.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), true, 'no sideways scrolling');
  await admin.setViewportSize({ width: 1280, height: 800 });

  // A forged link is refused in plain words.
  const stranger = await newUserPage(browser, server.url);
  await stranger.goto(`/#/invite/${'ab'.repeat(32)}`);
  const refused = stranger.locator('[data-signup=invite-refused]');
  await refused.waitFor();
  assert.equal(await refused.getAttribute('data-code'), 'invite_invalid');
  assert.match(await refused.textContent(), /does not work/);
  await shot(stranger, 'invites-signup-forged-desktop');
  await stranger.setViewportSize(PHONE);
  await shot(stranger, 'invites-signup-forged-phone');

  // Revoked, the real link is refused too (and `#/signup?invite=` reads it the same way).
  await admin.click('[data-admin=invites] [data-action=revoke-invite]');
  await admin.click('.dialog[data-dialog=confirm] button[data-action=confirm]');
  await admin.locator('[data-admin=invites] .list-empty').waitFor();
  const token = link.slice(link.lastIndexOf('/') + 1);
  await stranger.goto(`/#/signup?invite=${token}`);
  await stranger.locator('[data-signup=invite-refused][data-code=invite_invalid]').waitFor();

  // The audit log tells the story.
  await admin.goto('/#/admin/audit');
  for (const action of ['invite.create', 'invite.use', 'invite.revoke']) {
    await admin.locator(`.audit-row[data-action="${action}"]`).first().waitFor();
  }
  assertClean(visitor, admin, stranger);
}));

test('closed: the sign-up page says so, and the admin makes and edits an account that then logs in', () => withAdminServer(['--sign-up', 'closed'], async ({ server, browser }) => {
  const visitor = await newUserPage(browser, server.url);
  await visitor.goto('/#/signup');
  await visitor.locator('[data-signup=closed]').waitFor();
  assert.equal(await visitor.locator('form[data-form=signup]').count(), 0);
  await shot(visitor, 'invites-signup-closed-desktop');
  await visitor.setViewportSize(PHONE);
  await shot(visitor, 'invites-signup-closed-phone');
  const refused = await rest(server.url, 'POST', '/auth/signup', { username: 'sneaky', password: 'a calm river 42' });
  assert.deepEqual([refused.status, refused.body.error.code], [403, 'sign_up_closed']);

  const admin = await newUserPage(browser, server.url);
  await logIn(admin, 'root', ADMIN_PASSWORD);
  await admin.goto('/#/admin/users');
  await admin.click('[data-action=new-user]');
  const dialog = admin.locator('.dialog[data-dialog=new-user]');
  await dialog.waitFor();
  await admin.fill('#admin-username', 'oscar');
  await admin.fill('#admin-password', 'short');
  await admin.fill('#admin-display_name', 'Oscar Made');
  await admin.fill('#admin-email', 'oscar@example.com');
  await admin.click('[data-action=submit-new-user]');
  // The server's refusal shows next to its field, and the dialog stays.
  await dialog.locator('[data-field=password].invalid').waitFor();
  await shot(admin, 'invites-admin-new-user-desktop');
  await admin.fill('#admin-password', 'a calm river 42');
  await admin.click('[data-action=submit-new-user]');
  await admin.locator('[data-admin=user][data-username=oscar]').waitFor();

  await admin.click('[data-action=edit-user]');
  await admin.locator('.dialog[data-dialog=edit-user]').waitFor();
  assert.equal(await admin.locator('#admin-display_name').inputValue(), 'Oscar Made');
  await admin.fill('#admin-display_name', 'Oscar Edited');
  await admin.fill('#admin-email', 'oscar@example.org');
  await admin.setViewportSize(PHONE);
  await shot(admin, 'invites-admin-edit-user-phone');
  await admin.setViewportSize({ width: 1280, height: 800 });
  await admin.click('[data-action=submit-edit-user]');
  await admin.locator('.dialog[data-dialog=edit-user]').waitFor({ state: 'detached' });
  await admin.locator('[data-admin=user] h2', { hasText: 'Oscar Edited' }).waitFor();
  await admin.locator('[data-admin=user-facts]', { hasText: 'oscar@example.org' }).waitFor();
  await calmShot(admin, 'invites-admin-user-edited-desktop');

  // The account made here logs in.
  const oscar = await newUserPage(browser, server.url);
  await logIn(oscar, 'oscar');

  await admin.goto('/#/admin/audit');
  await admin.locator('.audit-row[data-action="user.create"]').waitFor();
  await admin.locator('.audit-row[data-action="user.edit"]').waitFor();
  assertClean(visitor, admin, oscar);
}));

test('users may invite: the sidebar has "Invite people", whose dialog makes a link', () => withAdminServer(['--sign-up', 'invite', '--users-may-invite'], async ({ server, browser }) => {
  const root = await adminToken(server);
  const made = await rest(server.url, 'POST', '/invites', { uses: 1, expires_in_secs: 3600 }, root);
  assert.equal(made.status, 201);
  await apiSignup(server.url, 'paula', 'a calm river 42', { display_name: 'Paula', invite: made.body.token });

  const page = await newUserPage(browser, server.url);
  await logIn(page, 'paula');
  await page.click('[data-action=invite]');
  const dialog = page.locator('.dialog[data-dialog=invite]');
  await dialog.waitFor();
  await dialog.locator('.list-empty').waitFor();
  await page.fill('#invite-uses', '3');
  await page.click('[data-action=make-invite]');
  assert.match(await page.locator('[data-invite-link]').inputValue(), /#\/invite\/[0-9a-f]{64}$/);
  await dialog.locator('.invite-row[data-state=active]').waitFor();
  await calmShot(page, 'invites-user-dialog-desktop');
  await page.setViewportSize(PHONE);
  await calmShot(page, 'invites-user-dialog-phone');
  assertClean(page);
}));
