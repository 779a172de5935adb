// E-mail in the web app, against a real SMTP server (aiosmtpd, as the Rust mail tests use):
// the banner while an address is unconfirmed, the link that confirms it, "Forgot password?"
// through to logging in with the new password, and the e-mail settings tab.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { assertClean, cleanup, launchBrowser, logIn, newUserPage, shot, signUp, startServer, tempDir } from './harness.js';

/** A free port on 127.0.0.1. */
function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/** A mail as text, its quoted-printable body (long lines: the links) decoded. */
function decodeQuotedPrintable(text) {
  if (!/Content-Transfer-Encoding: quoted-printable/i.test(text)) return text;
  return text.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, hex) => String.fromCharCode(parseInt(hex, 16)));
}

/** aiosmtpd on a free port, delivering into a Maildir; `mails(to)` reads what came. */
async function startSmtp() {
  const dir = tempDir('kanect-smtp-');
  const port = await freePort();
  const python = process.env.KANECT_TEST_SMTP || 'python3';
  const child = spawn(python, ['-m', 'aiosmtpd', '-n', '-l', `127.0.0.1:${port}`, '-c', 'aiosmtpd.handlers.Mailbox', join(dir, 'box')], { stdio: 'ignore' });
  for (let i = 0; i < 200; i++) {
    const open = await new Promise((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const mails = (to) => {
    let files = [];
    try {
      files = readdirSync(join(dir, 'box', 'new'));
    } catch {
      return [];
    }
    return files
      .map((f) => readFileSync(join(dir, 'box', 'new', f), 'utf8'))
      .filter((text) => text.includes(`X-RcptTo: ${to}`))
      .map(decodeQuotedPrintable);
  };
  const waitFor = async (to, n) => {
    for (let i = 0; i < 300; i++) {
      const got = mails(to);
      if (got.length >= n) return got;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`mail ${n} to ${to} did not come`);
  };
  const token = (mail, marker) => mail.match(new RegExp(`${marker.replace(/[/#]/g, '\\$&')}([0-9a-f]{64})`))[1];
  return { port, mails, waitFor, token, stop: () => { child.kill(); cleanup(dir); } };
}

test('unconfirmed address: banner, link, forgot password and the e-mail settings', async () => {
  const smtp = await startSmtp();
  const server = await startServer({ args: ['--smtp-url', `smtp://127.0.0.1:${smtp.port}?tls=none`, '--email-verification', 'required'] });
  const browser = await launchBrowser();
  try {
    const page = await newUserPage(browser, server.url);
    await signUp(page, { username: 'alice', email: 'alice@example.com' });
    const banner = page.locator('.verify-banner');
    await banner.waitFor();
    assert.match(await banner.textContent(), /Confirm your address to start chatting/);
    await shot(page, 'mail-banner-desktop');
    await page.setViewportSize({ width: 390, height: 844 });
    await shot(page, 'mail-banner-phone');
    await page.setViewportSize({ width: 1280, height: 800 });

    const [welcome] = await smtp.waitFor('alice@example.com', 1);
    await page.goto(`/#/verify/${smtp.token(welcome, '/#/verify/')}`);
    await page.waitForSelector('[data-page=mail-link] .notice:text("is confirmed")');
    await shot(page, 'mail-verified');
    await page.goto('/#/');
    await page.reload();
    await page.waitForSelector('.shell');
    assert.equal(await page.locator('.verify-banner').count(), 0, 'no banner once confirmed');

    // The settings tab: a wrong current password is said in words; a right one changes it.
    await page.goto('/#/settings/email');
    await page.waitForSelector('[data-email-status=verified]');
    await page.fill('#new-email', 'alice@example.org');
    await page.fill('#current-password', 'not my password');
    await page.click('form[data-form=change-email] button[type=submit]');
    await page.waitForSelector('.form-error:text("That is not your current password.")');
    await page.fill('#current-password', 'a calm river 42');
    await page.click('form[data-form=change-email] button[type=submit]');
    await page.waitForSelector('[data-email-status=unverified]');
    await smtp.waitFor('alice@example.org', 1);
    // Not confirmed yet: the tab mails the link again.
    await page.click('#settings-main [data-action=resend]');
    await page.waitForSelector('#toasts >> text=Sent: check your inbox.');
    await smtp.waitFor('alice@example.org', 2);
    await shot(page, 'mail-settings-desktop');
    await page.setViewportSize({ width: 390, height: 844 });
    await shot(page, 'mail-settings-phone');

    // Forgot password, signed out, from the log-in page.
    const guest = await newUserPage(browser, server.url);
    await guest.goto('/#/login');
    await guest.click('a[data-link=forgot]');
    await guest.fill('#account', 'alice@example.org');
    await guest.click('form[data-form=reset-request] button[type=submit]');
    await guest.waitForSelector('.notice:text("a link is on its way")');
    await shot(guest, 'mail-reset-request');
    const resets = await smtp.waitFor('alice@example.org', 3);
    const reset = resets.find((m) => m.includes('/#/reset/'));
    await guest.goto(`/#/reset/${smtp.token(reset, '/#/reset/')}`);
    await guest.fill('#password', 'a brand new river 77');
    await guest.click('form[data-form=reset-confirm] button[type=submit]');
    await guest.waitForSelector('.notice:text("Your password is changed")');
    await shot(guest, 'mail-reset-done');
    await logIn(guest, 'alice', 'a brand new river 77');
    await guest.waitForSelector('.shell');
    assertClean(guest);
  } finally {
    await browser.close().catch(() => {});
    await server.stop();
    cleanup(server.dataDir);
    smtp.stop();
  }
});
