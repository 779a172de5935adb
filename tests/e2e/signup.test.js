// Sign-up and log-in errors show next to the field concerned, in words, and clear when fixed.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { apiSignup, assertClean, newUserPage, shot, withServer } from './harness.js';

const errorFor = (page, field) => page.locator(`[data-error-for=${field}]`);

test('signup validation errors show inline, from local checks and from the server', () => withServer(async ({ server, browser }) => {
  await apiSignup(server.url, 'taken_name');
  const page = await newUserPage(browser, server.url);
  await page.goto('/#/signup');

  await page.fill('#username', 'ab');
  await page.fill('#password', 'x');
  await page.click('form[data-form=signup] button[type=submit]');
  assert.match(await errorFor(page, 'username').textContent(), /at least 3 characters/);
  assert.match(await errorFor(page, 'password').textContent(), /at least 8 characters/);
  assert.equal(await page.locator('[data-field=username]').getAttribute('class'), 'field invalid');

  await page.fill('#username', 'bad name!');
  await page.locator('#username').blur();
  assert.match(await errorFor(page, 'username').textContent(), /letters, digits/);

  await page.fill('#email', 'not-an-email');
  await page.locator('#email').blur();
  assert.match(await errorFor(page, 'email').textContent(), /does not look like an email/);

  await page.fill('#password', 'password123');
  assert.equal(await page.locator('.meter').getAttribute('data-score'), '0');
  await page.click('form[data-form=signup] button[type=submit]');
  assert.match(await errorFor(page, 'password').textContent(), /Too easy to guess/);

  // A strong password fills the meter; a fixed field clears its error.
  await page.fill('#password', 'Quiet-Harbour-Lights-88');
  assert.equal(await page.locator('.meter').getAttribute('data-score'), '4');
  assert.equal(await errorFor(page, 'password').textContent(), '');
  await page.fill('#email', '');

  // Only the server knows the name is taken: its `username_taken` code shows by the field.
  await page.fill('#username', 'taken_name');
  await page.click('form[data-form=signup] button[type=submit]');
  await page.waitForSelector('[data-error-for=username]:text("That username is taken")');
  await shot(page, 'signup-errors-desktop');
  await page.setViewportSize({ width: 390, height: 844 });
  await shot(page, 'signup-errors-phone');

  // Log-in failures: a clear message, the password cleared.
  await page.goto('/#/login');
  await page.fill('#username', 'taken_name');
  await page.fill('#password', 'wrong password here');
  await page.click('form[data-form=login] button[type=submit]');
  await page.waitForSelector('.form-error:text("Wrong username or password.")');
  assert.equal(await page.inputValue('#password'), '');
  assertClean(page);
}));
