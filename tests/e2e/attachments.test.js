// Attachments in the web app: choosing files (the attach button, paste, drop), the upload tray
// (progress, errors in words, the cap of 10, cancel), sending files with or without text, and
// what the other member sees: thumbnails that open a viewer, file cards that download. File
// names are shown as text, and a file the browser could render (HTML) is only ever downloaded.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { crc32, deflateSync } from 'node:zlib';
import {
  SERVER_BIN, apiSignup, assertClean, bubbles, logIn, newUserPage, rest, sendText, shot, waitConnected, withServer,
} from './harness.js';

const PHONE = { width: 390, height: 844 };
const INPUT = 'input[data-attach-input]';

/** A PNG (RGB, 8 bits) of `width`×`height` whose pixels `paint(x, y)` gives as [r, g, b]. */
function png(width, height, paint) {
  const row = width * 3 + 1;
  const raw = Buffer.alloc(row * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) raw.set(paint(x, y), y * row + 1 + x * 3);
  }
  const chunk = (type, data) => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, 'latin1');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
    return Buffer.concat([head, data, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A 640×400 picture: a sky, a sun, a sea (so a thumbnail reads as a photo in screenshots). */
function photo() {
  return png(640, 400, (x, y) => {
    const sun = (x - 460) ** 2 + (y - 150) ** 2 < 55 ** 2;
    if (sun) return [255, 214, 102];
    if (y > 270) return [30, 90 + Math.round((y - 270) / 4), 150 + Math.round((y - 270) / 3)];
    return [250 - Math.round(y / 3), 150 + Math.round(y / 4), 110 + Math.round(y / 2)];
  });
}

const NOTES = 'Packing list\n- tent\n- stove\n- maps\n';

/** The server's flags, from its --help: whether it takes `--max-file-size`. */
function serverTakes(flag) {
  const help = spawnSync(SERVER_BIN, ['--help'], { encoding: 'utf8', timeout: 10_000 });
  return `${help.stdout}${help.stderr}`.includes(flag);
}

/**
 * Alice and Bob (through the API), their direct conversation, and both logged in with it open
 * (`viewport` for both pages).
 */
async function aliceAndBob(browser, server, viewport) {
  const alice = await apiSignup(server.url, 'alice', 'a calm river 42', { display_name: 'Alice Martin' });
  const bob = await apiSignup(server.url, 'bob', 'a calm river 42', { display_name: 'Bob Stone' });
  const conversation = (await rest(server.url, 'POST', '/conversations/direct', { user: bob.user.id }, alice.token)).body.id;
  const pages = {};
  for (const [name, account] of [['alice', alice], ['bob', bob]]) {
    const page = await newUserPage(browser, server.url, viewport);
    await logIn(page, account.user.username);
    await openConversation(page, conversation);
    pages[name] = page;
  }
  return { alice: pages.alice, bob: pages.bob, conversation, tokens: { alice: alice.token, bob: bob.token } };
}

/** Opens the conversation by its address (an empty direct conversation is in no list yet). */
async function openConversation(page, conversation) {
  await page.goto(`/#/c/${conversation}`);
  await page.locator(`.chat[data-open-conversation="${conversation}"] .composer`).waitFor();
}

/** Waits until every image in `locator` has loaded (a CSP refusal or a 404 never does). */
async function loaded(locator) {
  await locator.first().waitFor();
  await locator.evaluateAll((imgs) => Promise.all(imgs.map((img) => (img.complete ? null : new Promise((done) => {
    img.addEventListener('load', done, { once: true });
    img.addEventListener('error', done, { once: true });
  })))));
  for (const size of await locator.evaluateAll((imgs) => imgs.map((img) => img.naturalWidth))) assert.ok(size > 0, 'the image loaded');
}

/** The tray rows, and the one for a file name. */
const uploadRow = (page, name) => page.locator('.tray .upload', { has: page.locator('.upload-name', { hasText: name }) });

test('Alice sends a picture and a text file; Bob sees a thumbnail and a card live, views the picture, downloads the file', () => withServer(async ({ server, browser }) => {
  const { alice, bob, conversation } = await aliceAndBob(browser, server);
  const picture = photo();

  // Nothing to send yet: the send button is off.
  assert.ok(await alice.locator('.send-btn').isDisabled());
  await alice.setInputFiles(INPUT, [
    { name: 'lake.png', mimeType: 'image/png', buffer: picture },
    { name: 'packing list.txt', mimeType: 'text/plain', buffer: Buffer.from(NOTES) },
  ]);
  assert.equal(await alice.locator('.tray .upload').count(), 2);
  await alice.locator('.tray .upload[data-status=done]').nth(1).waitFor();
  assert.match(await uploadRow(alice, 'lake.png').locator('.upload-info').textContent(), /^\d+(\.\d)? KB$/);
  assert.equal(await uploadRow(alice, 'packing list.txt').locator('.upload-info').textContent(), `${NOTES.length} bytes`);
  await loaded(uploadRow(alice, 'lake.png').locator('img.upload-thumb'));
  assert.equal(await alice.locator('.tray progress').count(), 0, 'finished uploads show no progress bar');

  // Sent with no text: the tray empties, and the message shows the files at once.
  assert.ok(await alice.locator('.send-btn').isEnabled());
  await alice.click('.send-btn');
  await alice.locator('.tray').waitFor({ state: 'hidden' });
  assert.ok(await alice.locator('.send-btn').isDisabled());
  const mine = alice.locator('.msg.mine').last();
  await mine.locator('.thumb img').waitFor();
  await alice.locator('.msg.mine[data-status=read]').waitFor();
  assert.equal(await mine.locator('.msg-body').count(), 0, 'no empty text line');

  // Bob sees them live: a thumbnail sized before it loads, and a card with a download link.
  const theirs = bob.locator('.msg.theirs').last();
  const thumb = theirs.locator('.thumb img');
  await thumb.waitFor();
  assert.equal(await thumb.getAttribute('alt'), 'lake.png');
  assert.equal(await thumb.getAttribute('width'), '320');
  assert.equal(await thumb.getAttribute('height'), '200');
  const src = await thumb.getAttribute('src');
  assert.match(src, /^\/api\/v1\/attachments\/[0-9a-f-]+\/thumbnail$/);
  await loaded(thumb);
  const card = theirs.locator('a.file-card');
  assert.equal(await card.locator('.file-name').textContent(), 'packing list.txt');
  assert.equal(await card.locator('.file-size').textContent(), `${NOTES.length} bytes`);
  assert.equal(await card.getAttribute('download'), 'packing list.txt');
  const href = await card.getAttribute('href');
  assert.match(href, /^\/api\/v1\/attachments\/[0-9a-f-]+$/);
  await bob.locator(`.list .item[data-conversation="${conversation}"] .item-sub`, { hasText: '📎 2 files' }).waitFor();
  await shot(bob, 'attachments-chat-desktop');

  // The viewer: the picture whole, its name, a download link; Esc, the close button and a
  // click beside the picture each close it.
  await thumb.click();
  const viewer = bob.locator('dialog.viewer[open]');
  await viewer.waitFor();
  assert.equal(await viewer.locator('.viewer-name').textContent(), 'lake.png');
  const full = viewer.locator('img.viewer-img');
  await loaded(full);
  assert.equal(await full.evaluate((img) => img.naturalWidth), 640);
  assert.equal(await viewer.locator('a[data-action=download]').getAttribute('download'), 'lake.png');
  assert.equal(await viewer.locator('a[data-action=download]').getAttribute('href'), src.replace(/\/thumbnail$/, ''));
  await shot(bob, 'attachments-viewer-desktop');
  await bob.keyboard.press('Escape');
  await viewer.waitFor({ state: 'detached' });
  await thumb.click();
  await bob.click('dialog.viewer button[data-action=close-viewer]');
  await viewer.waitFor({ state: 'detached' });
  await thumb.click();
  await viewer.waitFor();
  await bob.mouse.click(20, 780);
  await viewer.waitFor({ state: 'detached' });

  // The card downloads the file, with its name, byte for byte.
  const [download] = await Promise.all([bob.waitForEvent('download'), card.click()]);
  assert.equal(download.suggestedFilename(), 'packing list.txt');
  assert.equal(readFileSync(await download.path(), 'utf8'), NOTES);
  const res = await bob.request.get(href);
  assert.equal(res.status(), 200);
  assert.equal(await res.text(), NOTES);
  assert.match(res.headers()['content-disposition'], /^attachment;/);
  const image = await bob.request.get(src.replace(/\/thumbnail$/, ''));
  assert.deepEqual(Buffer.from(await image.body()), picture);

  // Text and one file: the preview is the text; one file alone: its name.
  await alice.setInputFiles(INPUT, { name: 'lake.png', mimeType: 'image/png', buffer: picture });
  await uploadRow(alice, 'lake.png').and(alice.locator('[data-status=done]')).waitFor();
  await sendText(alice, 'The view from the tent');
  await bubbles(bob, 'The view from the tent').waitFor();
  assert.equal(await bob.locator('.msg.theirs').last().locator('.thumb').count(), 1);
  await bob.locator(`.list .item[data-conversation="${conversation}"] .item-sub`, { hasText: 'The view from the tent' }).waitFor();
  // Editing its text keeps its picture.
  const withText = alice.locator('.msg.mine').last();
  await withText.locator('.msg-meta').click();
  await withText.locator('button[data-action=edit]').click();
  await alice.fill('.edit-input', 'The view from the tent, at dawn');
  await alice.press('.edit-input', 'Enter');
  await bubbles(bob, 'The view from the tent, at dawn').waitFor();
  await loaded(bob.locator('.msg.theirs').last().locator('.thumb img'));
  await loaded(alice.locator('.msg.mine').last().locator('.thumb img'));
  await alice.setInputFiles(INPUT, { name: 'lake.png', mimeType: 'image/png', buffer: picture });
  await uploadRow(alice, 'lake.png').and(alice.locator('[data-status=done]')).waitFor();
  await alice.press('.composer-input', 'Enter');
  await bob.locator(`.list .item[data-conversation="${conversation}"] .item-sub`, { hasText: '📎 lake.png' }).waitFor();

  // Phone width: the thumbnails fit, the viewer fits.
  await bob.setViewportSize(PHONE);
  await bob.locator('.msg.theirs .thumb img').last().scrollIntoViewIfNeeded();
  for (const box of await bob.locator('.msg .thumb img, .msg .file-card').evaluateAll((els) => els.map((e) => e.getBoundingClientRect().right))) {
    assert.ok(box <= PHONE.width, `within the screen (${box})`);
  }
  await shot(bob, 'attachments-chat-phone');
  await bob.locator('.msg.theirs .thumb').last().click();
  await viewer.waitFor();
  await loaded(viewer.locator('img.viewer-img'));
  const fit = await viewer.locator('img.viewer-img').boundingBox();
  assert.ok(fit.x >= 0 && fit.x + fit.width <= PHONE.width, 'the picture fits the screen');
  assert.ok(await viewer.locator('button[data-action=close-viewer]').isVisible());
  await shot(bob, 'attachments-viewer-phone');
  await bob.keyboard.press('Escape');
  await viewer.waitFor({ state: 'detached' });

  // Deleting the message takes its files away, on both sides.
  const last = alice.locator('.msg.mine').last();
  // (A tap beside the picture shows the actions; a tap on it opens the viewer.)
  await last.locator('.msg-meta').click();
  assert.equal(await alice.locator('dialog.viewer').count(), 0);
  await last.locator('button[data-action=delete]').click();
  await alice.click('.dialog button[data-action=confirm]');
  await bob.locator('.msg.theirs').last().locator('.msg-body.deleted').waitFor();
  assert.equal(await bob.locator('.msg.theirs').last().locator('.attachments').count(), 0);
  assert.equal(await last.locator('.attachments').count(), 0);
  assertClean(alice, bob);
}));

test('the tray: progress, cancel, errors in words, at most 10 files, and paste and drop', () => withServer(async ({ server, browser }) => {
  const { alice, bob } = await aliceAndBob(browser, server);

  // A slow link: the upload shows its progress, and × cancels it.
  const cdp = await alice.context().newCDPSession(alice);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 20, downloadThroughput: -1, uploadThroughput: 64 * 1024 });
  const big = Buffer.alloc(600 * 1024, 7);
  await alice.setInputFiles(INPUT, [
    { name: 'holiday video.mp4', mimeType: 'video/mp4', buffer: big },
    { name: 'slow notes.txt', mimeType: 'text/plain', buffer: Buffer.from(NOTES) },
  ]);
  const slow = uploadRow(alice, 'holiday video.mp4');
  await alice.waitForFunction(() => {
    const bar = document.querySelector('.tray .upload[data-status=uploading] progress');
    return bar && bar.value > 0 && bar.value < bar.max;
  });
  assert.match(await slow.locator('.upload-info').textContent(), /^\d+(\.\d)? KB of 600 KB · \d+%$/);
  await uploadRow(alice, 'slow notes.txt').and(alice.locator('[data-status=done]')).waitFor();
  await shot(alice, 'attachments-tray-progress-desktop');
  await slow.locator('button[data-action=remove-upload]').click();
  await slow.waitFor({ state: 'detached' });
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  // × on a finished one removes it; the tray is then empty and hidden.
  await uploadRow(alice, 'slow notes.txt').locator('button[data-action=remove-upload]').click();
  await alice.locator('.tray').waitFor({ state: 'hidden' });

  // The server's refusals, in words (answered here by a stand-in for the server).
  const refusals = [
    ['full.txt', 413, 'quota_exceeded', 'Your storage is full'],
    ['busy.txt', 429, 'too_many_uploads', 'Too many uploads at once, wait a moment'],
    ['odd.txt', 400, 'something_new', 'the server says no'],
  ];
  await alice.route(/\/api\/v1\/attachments\?/, (route) => {
    const name = new URL(route.request().url()).searchParams.get('name');
    const [, status, code] = refusals.find(([file]) => file === name);
    return route.fulfill({ status, contentType: 'application/json', body: JSON.stringify({ error: { code, message: 'the server says no', field: null } }) });
  });
  await alice.setInputFiles(INPUT, refusals.map(([name]) => ({ name, mimeType: 'text/plain', buffer: Buffer.from('x') })));
  for (const [name, , , text] of refusals) {
    const row = uploadRow(alice, name);
    await row.and(alice.locator('[data-status=failed]')).waitFor();
    assert.equal(await row.locator('.upload-info').textContent(), text);
  }
  assert.ok(await alice.locator('.send-btn').isDisabled(), 'failed uploads are nothing to send');
  await alice.unroute(/\/api\/v1\/attachments\?/);
  await shot(alice, 'attachments-tray-errors-desktop');
  for (const [name] of refusals) await uploadRow(alice, name).locator('button[data-action=remove-upload]').click();
  await alice.locator('.tray').waitFor({ state: 'hidden' });

  // Eleven files at once: ten upload, the eleventh says why not.
  const eleven = Array.from({ length: 11 }, (_, i) => ({ name: `part ${i + 1}.txt`, mimeType: 'text/plain', buffer: Buffer.from(`part ${i + 1}\n`) }));
  await alice.setInputFiles(INPUT, eleven);
  await alice.locator('.tray .upload[data-status=done]').nth(9).waitFor();
  const eleventh = uploadRow(alice, 'part 11.txt');
  assert.equal(await eleventh.getAttribute('data-status'), 'failed');
  assert.equal(await eleventh.locator('.upload-info').textContent(), 'At most 10 files per message');
  await alice.setViewportSize(PHONE);
  await alice.locator('.tray').evaluate((tray) => { tray.scrollTop = tray.scrollHeight; });
  await shot(alice, 'attachments-tray-phone');
  for (const right of await alice.locator('.tray .upload').evaluateAll((els) => els.map((e) => e.getBoundingClientRect().right))) {
    assert.ok(right <= PHONE.width, `a tray row fits the screen (${right})`);
  }
  await alice.setViewportSize({ width: 1280, height: 800 });
  await sendText(alice, 'ten parts');
  await bubbles(bob, 'ten parts').waitFor();
  assert.equal(await bob.locator('.msg.theirs').last().locator('.file-card').count(), 10);
  await alice.locator('.tray').waitFor({ state: 'hidden' });

  // A pasted image goes to the tray; so do dropped files.
  const pasted = png(48, 32, (x) => [x * 5, 120, 200]);
  await alice.locator('.composer-input').evaluate((input, bytes) => {
    const data = new DataTransfer();
    data.items.add(new File([new Uint8Array(bytes)], 'image.png', { type: 'image/png' }));
    input.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
  }, [...pasted]);
  await uploadRow(alice, 'image.png').and(alice.locator('[data-status=done]')).waitFor();
  await loaded(uploadRow(alice, 'image.png').locator('img.upload-thumb'));
  // Pasting text stays a text paste.
  await alice.locator('.composer-input').evaluate((input) => {
    const data = new DataTransfer();
    data.setData('text/plain', 'just words');
    input.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
  });
  assert.equal(await alice.locator('.tray .upload').count(), 1);
  await alice.locator('.chat').evaluate((chat, text) => {
    window.dropped = new DataTransfer();
    window.dropped.items.add(new File([text], 'dropped.txt', { type: 'text/plain' }));
    chat.dispatchEvent(new DragEvent('dragenter', { dataTransfer: window.dropped, bubbles: true, cancelable: true }));
  }, NOTES);
  await alice.locator('.chat.dropping').waitFor();
  await shot(alice, 'attachments-drop-desktop');
  await alice.locator('.chat').evaluate((chat) => {
    chat.dispatchEvent(new DragEvent('drop', { dataTransfer: window.dropped, bubbles: true, cancelable: true }));
  });
  await uploadRow(alice, 'dropped.txt').and(alice.locator('[data-status=done]')).waitFor();
  assert.ok(!(await alice.locator('.chat').evaluate((chat) => chat.classList.contains('dropping'))));
  await alice.click('.send-btn');
  const last = bob.locator('.msg.theirs').last();
  await last.locator('.file-card .file-name', { hasText: 'dropped.txt' }).waitFor();
  await loaded(last.locator('.thumb img'));
  assertClean(alice, bob);
}));

test('a file over the size limit is refused in words', async () => {
  // A server started with a 1 MiB limit if it takes the flag, else a stand-in for its refusal.
  const small = serverTakes('--max-file-size');
  await withServer(async ({ server, browser }) => {
    const { alice, conversation } = await aliceAndBob(browser, server);
    if (!small) {
      await alice.route(/\/api\/v1\/attachments\?/, (route) => route.fulfill({
        status: 413, contentType: 'application/json',
        body: JSON.stringify({ error: { code: 'attachment_too_large', message: 'limit reached: attachment_too_large', field: null } }),
      }));
    }
    const huge = { name: 'huge.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(1536 * 1024, 1) };
    await alice.setInputFiles(INPUT, [huge, { name: 'fine.txt', mimeType: 'text/plain', buffer: Buffer.from('fine') }]);
    const row = uploadRow(alice, 'huge.bin');
    await row.and(alice.locator('[data-status=failed]')).waitFor();
    assert.match(await row.locator('.upload-info').textContent(), /^Too large/);
    if (small) await uploadRow(alice, 'fine.txt').and(alice.locator('[data-status=done]')).waitFor();
    await shot(alice, 'attachments-too-large-desktop');

    // A server that announces its limit (`max_file_bytes` in `hello`; added here by a relay if
    // the server does not say it): the file is refused before any byte is sent, with the limit.
    await alice.context().routeWebSocket(/\/api\/v1\/ws(\?.*)?$/, (ws) => {
      const toServer = ws.connectToServer();
      ws.onMessage((message) => toServer.send(message));
      toServer.onMessage((message) => {
        const frame = JSON.parse(message);
        if (frame.type === 'hello' && frame.max_file_bytes === undefined) frame.max_file_bytes = 1024 * 1024;
        ws.send(JSON.stringify(frame));
      });
    });
    await alice.reload();
    await waitConnected(alice);
    await openConversation(alice, conversation);
    const uploads = [];
    alice.on('request', (request) => {
      if (request.method() === 'POST' && request.url().includes('/api/v1/attachments')) uploads.push(request.url());
    });
    await alice.setInputFiles(INPUT, huge);
    await row.and(alice.locator('[data-status=failed]')).waitFor();
    assert.equal(await row.locator('.upload-info').textContent(), 'Too large: the limit is 1 MB');
    assert.deepEqual(uploads, []);
    assertClean(alice);
  }, { args: small ? ['--max-file-size', '1'] : [] });
});

test('an HTML file is only ever downloaded, and a file name with markup shows as text', () => withServer(async ({ server, browser }) => {
  const { alice, bob } = await aliceAndBob(browser, server);
  const dialogs = [];
  for (const page of [alice, bob]) page.on('dialog', (d) => dialogs.push(d.message()) && d.dismiss());
  const HTML = '<!doctype html><script>window.top.__xss = 1; alert(1)</script><h1>hi</h1>';
  const MARKUP = '<img src=x onerror=alert(1)>.txt';
  await alice.setInputFiles(INPUT, [
    { name: 'page.html', mimeType: 'text/html', buffer: Buffer.from(HTML) },
    { name: MARKUP, mimeType: 'text/plain', buffer: Buffer.from('plain') },
  ]);
  await alice.locator('.tray .upload[data-status=done]').nth(1).waitFor();
  assert.equal(await uploadRow(alice, MARKUP).locator('.upload-name').textContent(), MARKUP);
  await sendText(alice, 'two files');
  await bubbles(bob, 'two files').waitFor();

  const cards = bob.locator('.msg.theirs').last().locator('a.file-card');
  assert.deepEqual(await cards.locator('.file-name').allTextContents(), ['page.html', MARKUP]);
  assert.equal(await cards.nth(1).getAttribute('download'), MARKUP);
  // The HTML is served as a download, sandboxed and unsniffed, and clicking it downloads it.
  const href = await cards.first().getAttribute('href');
  const res = await bob.request.get(href);
  assert.equal(await res.text(), HTML);
  assert.match(res.headers()['content-disposition'], /^attachment;/);
  assert.equal(res.headers()['x-content-type-options'], 'nosniff');
  assert.match(res.headers()['content-security-policy'], /sandbox/);
  const before = bob.url();
  const [download] = await Promise.all([bob.waitForEvent('download'), cards.first().click()]);
  assert.equal(download.suggestedFilename(), 'page.html');
  assert.equal(bob.url(), before);
  // Even opened directly, it is a download, not a page.
  const direct = await bob.context().newPage();
  const [again] = await Promise.all([direct.waitForEvent('download'), direct.goto(href).catch(() => null)]);
  assert.equal(again.suggestedFilename(), 'page.html');
  await direct.close();

  for (const page of [alice, bob]) {
    assert.equal(await page.evaluate(() => window.__xss), undefined);
    assert.equal(await page.locator('#app img').count(), 0, 'no <img> element came from a name');
  }
  assert.deepEqual(dialogs, []);
  assertClean(alice, bob);
}));

test('files sent while the socket is cut go out with the message after a reload, once', () => withServer(async ({ server, browser }) => {
  const { alice, bob, conversation } = await aliceAndBob(browser, server);

  // Alice's socket is cut (REST still works, so uploads do): her send waits, with its files.
  const relay = { open: false, sends: [] };
  await alice.context().routeWebSocket(/\/api\/v1\/ws(\?.*)?$/, (ws) => {
    if (!relay.open) return;
    const toServer = ws.connectToServer();
    ws.onMessage((message) => {
      const frame = JSON.parse(message);
      if (frame.type === 'send') relay.sends.push(frame);
      toServer.send(message);
    });
    toServer.onMessage((message) => ws.send(message));
  });
  await alice.reload();
  await openConversation(alice, conversation);
  await alice.setInputFiles(INPUT, { name: 'offline.txt', mimeType: 'text/plain', buffer: Buffer.from(NOTES) });
  await uploadRow(alice, 'offline.txt').and(alice.locator('[data-status=done]')).waitFor();
  await sendText(alice, 'written offline, with a file');
  const pending = alice.locator('.msg.mine[data-status=pending]');
  await pending.waitFor();
  assert.equal(await pending.locator('.file-card .file-name').textContent(), 'offline.txt');

  // A reload keeps the send, files and all; with the socket back it goes out once.
  relay.open = true;
  await alice.reload();
  await waitConnected(alice);
  await openConversation(alice, conversation);
  await bubbles(bob, 'written offline, with a file').waitFor();
  const card = bob.locator('.msg.theirs').last().locator('a.file-card');
  assert.equal(await card.locator('.file-name').textContent(), 'offline.txt');
  assert.equal(await (await bob.request.get(await card.getAttribute('href'))).text(), NOTES);
  await alice.locator('.msg.mine[data-status=pending]').waitFor({ state: 'detached' });
  assert.equal(relay.sends.length, 1);
  assert.equal(relay.sends[0].attachments.length, 1);
  assert.equal(await bubbles(bob, 'written offline, with a file').count(), 1);
  assertClean(alice, bob);
}));
