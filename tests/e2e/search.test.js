// The search palette (issue 22) in a real browser: Ctrl+K opens it from anywhere and Esc closes
// it, giving the focus back; the sidebar's Search button opens it too. People and groups open
// the right conversation; a message hit opens its conversation scrolled to the message and
// flashed, also far back (history read around it); the snippet marks the word; "More results"
// pages; "In this conversation" narrows; markup in a hit shows as text; another group's
// messages never show; punctuation alone gives a hint, a server without search says so.
// Screenshots at desktop and phone widths.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  aliceAndBob, apiSignup, assertClean, logIn, newUserPage, rest, shot, withServer,
} from './harness.js';

const PHONE = { width: 390, height: 844 };

test('the message search asks after a pause, keeps only the latest answer, and pages by cursor', async () => {
  // The server, played by a fetch that answers when the test says.
  const asked = [];
  const realFetch = globalThis.fetch;
  globalThis.fetch = (url) => new Promise((resolve) => {
    asked.push({ url: new URL(url, 'http://x').searchParams, answer: (body) => resolve(new Response(JSON.stringify(body), { status: 200 })) });
  });
  try {
    const { createMessageSearch } = await import('../../kanect-http/web/search.js');
    let changes = 0;
    const search = createMessageSearch(() => { changes += 1; });
    const hit = (id) => ({ conversation: 'c', seq: 1, id, sender: 'u', sent_at: 1, snippet: [{ text: id, hit: true }] });
    const settle = (ms) => new Promise((r) => setTimeout(r, ms));

    search.set('l');
    search.set('lu');
    search.set('lunch');
    await settle(250);
    assert.equal(asked.length, 1, 'typing quickly asks once, after the pause');
    assert.equal(asked[0].url.get('q'), 'lunch');
    assert.equal(asked[0].url.get('order'), 'newest');
    search.set('lunch at', 'conv-1');
    await settle(250);
    assert.equal(asked.length, 2);
    assert.equal(asked[1].url.get('conversation'), 'conv-1');
    // The newer answer first, then the stale one: the stale one is dropped.
    asked[1].answer({ hits: [hit('new')], next_cursor: 'k1' });
    await settle(10);
    asked[0].answer({ hits: [hit('stale')], next_cursor: null });
    await settle(10);
    assert.deepEqual(search.state.hits.map((x) => x.id), ['new']);
    assert.equal(search.state.status, 'done');
    // The next page, by the cursor, appended.
    search.more();
    search.more(); // one at a time
    assert.equal(asked.length, 3);
    assert.equal(asked[2].url.get('cursor'), 'k1');
    asked[2].answer({ hits: [hit('older')], next_cursor: null });
    await settle(10);
    assert.deepEqual(search.state.hits.map((x) => x.id), ['new', 'older']);
    assert.equal(search.state.next, null);
    // Cleared: idle, and nothing asked.
    search.set('  ');
    assert.equal(search.state.status, 'idle');
    await settle(250);
    assert.equal(asked.length, 3);
    assert.ok(changes > 0);
    search.stop();
  } finally {
    globalThis.fetch = realFetch;
  }
});

/** Sends a message through the REST API; resolves with the stored message. */
async function say(server, user, conversation, body) {
  const res = await rest(server.url, 'POST', `/conversations/${conversation}/messages`,
    { client_id: `c-${Math.random().toString(36).slice(2)}`, body }, user.token);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

/**
 * Waits until the server's search finds at least `count` messages for `q` (the index is updated
 * off the send path, within about a second): polls, bounded.
 */
async function indexed(server, user, q, count = 1) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const res = await rest(server.url, 'GET', `/search/messages?q=${encodeURIComponent(q)}&limit=50`, undefined, user.token);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    if (res.body.hits.length >= count) return res.body;
    if (Date.now() > deadline) throw new Error(`"${q}": ${res.body.hits.length} of ${count} hits indexed`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Opens the palette with Ctrl+K and types `text`. */
async function palette(page, text) {
  await page.keyboard.press('Control+k');
  const input = page.locator('dialog[data-dialog=search] [data-palette-input]');
  await input.waitFor();
  await input.fill(text);
  return input;
}

test('Ctrl+K opens the palette anywhere, Esc closes it and gives the focus back; the Search button opens it too', () => withServer(async ({ server, browser }) => {
  const { direct } = await aliceAndBob(server);
  const page = await newUserPage(browser, server.url);
  await logIn(page, 'alice');
  await page.goto(`/#/c/${direct}`);
  await page.locator('.composer-input').focus();
  await page.keyboard.type('half a draft');
  await page.keyboard.press('Control+k');
  const dialog = page.locator('dialog[data-dialog=search]');
  await dialog.waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.hasAttribute('data-palette-input')), true, 'the input has the focus');
  assert.equal(await page.locator('.composer-input').inputValue(), 'half a draft', 'the browser shortcut did nothing to the composer');
  // Ctrl+K again while open: still one palette.
  await page.keyboard.press('Control+k');
  assert.equal(await page.locator('dialog[data-dialog=search]').count(), 1);
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });
  assert.equal(await page.evaluate(() => document.activeElement.classList.contains('composer-input')), true, 'the focus is back in the composer');

  // Cmd+K (macOS) too; and the sidebar's button, by its name.
  await page.keyboard.press('Meta+k');
  await dialog.waitFor();
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });
  const button = page.getByRole('button', { name: 'Search', exact: true });
  await button.click();
  await dialog.waitFor();
  await shot(page, 'search-empty-desktop');
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });
  assert.equal(await page.evaluate(() => document.activeElement.getAttribute('data-action')), 'search', 'the focus is back on the button');
  assertClean(page);
}));

test('people and group results open the right conversation, by keyboard and by click', () => withServer(async ({ server, browser }) => {
  const { alice, bob, direct } = await aliceAndBob(server);
  const carol = await apiSignup(server.url, 'carol', undefined, { display_name: 'Carol Danvers' });
  await apiSignup(server.url, 'dave');
  const group = await rest(server.url, 'POST', '/conversations', { name: 'Harbour walkers', members: [bob.user.id, carol.user.id] }, alice.token);
  assert.equal(group.status, 201, JSON.stringify(group.body));
  await say(server, bob, direct, 'hello alice');
  const page = await newUserPage(browser, server.url);
  await logIn(page, 'alice');

  // A person I have a conversation with: Enter on the first (active) result.
  await palette(page, 'bob');
  const first = page.locator('dialog[data-dialog=search] [role=option]').first();
  await first.waitFor();
  assert.equal(await first.getAttribute('data-username'), 'bob');
  assert.equal(await first.getAttribute('aria-selected'), 'true');
  await page.keyboard.press('Enter');
  await page.locator('dialog[data-dialog=search]').waitFor({ state: 'detached' });
  await page.waitForSelector(`.chat[data-open-conversation="${direct}"]`);

  // A person by display name, never talked to: the direct conversation is made, as in the sidebar.
  await palette(page, 'danvers');
  await page.locator('dialog[data-dialog=search] .palette-person[data-username=carol]').click();
  await page.waitForFunction(() => document.querySelector('.chat .chat-title')?.textContent === 'Carol Danvers');
  const carolDirect = await page.evaluate(() => location.hash.slice('#/c/'.length));
  const check = await rest(server.url, 'GET', `/conversations/${carolDirect}`, undefined, carol.token);
  assert.equal(check.status, 200);
  assert.equal(check.body.kind, 'direct');

  // A group, reached with ↓ past the people (and the Messages section is there too).
  await palette(page, 'harbour');
  await page.locator('dialog[data-dialog=search] .palette-group').waitFor();
  await page.locator('[data-section=messages] [data-search-status]').waitFor();
  assert.equal(await page.locator('dialog[data-dialog=search] .palette-person').count(), 0);
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowUp');
  await shot(page, 'search-group-desktop');
  await page.keyboard.press('Enter');
  await page.waitForSelector(`.chat[data-open-conversation="${group.body.id}"]`);
  assertClean(page);
}));

test('a message hit opens its conversation on the message, far back, flashed; snippets mark the word; More results pages; narrowing', () => withServer(async ({ server, browser }) => {
  const { alice, bob, direct } = await aliceAndBob(server);
  const old = await say(server, bob, direct, 'The key is under the blue flowerpot, left of the door.');
  // 120 messages after it (split between the two: each account may send 100 at once), all
  // found by "filler", more than a page of hits.
  for (let i = 1; i <= 60; i++) await say(server, bob, direct, `bob filler ${i}`);
  for (let i = 1; i <= 60; i++) await say(server, alice, direct, `alice filler ${i}`);
  await rest(server.url, 'POST', `/conversations/${direct}/receipts`, { kind: 'read', seq: 121 }, alice.token);
  await indexed(server, alice, 'flowerpot');
  await indexed(server, alice, 'filler', 50);

  for (const [viewport, name] of [[undefined, 'desktop'], [PHONE, 'phone']]) {
    const page = await newUserPage(browser, server.url, viewport);
    await logIn(page, 'alice');
    await palette(page, 'flowerpot');
    const hit = page.locator('dialog[data-dialog=search] .palette-message').first();
    await hit.waitFor();
    assert.equal(await hit.getAttribute('data-seq'), String(old.seq));
    assert.equal(await hit.locator('.palette-where').textContent(), 'bob');
    assert.equal(await hit.locator('.palette-who').textContent(), '', 'bob named once: the conversation is his');
    assert.deepEqual(await hit.locator('.palette-snippet mark').allTextContents(), ['flowerpot']);
    assert.equal(await hit.locator('.palette-snippet').textContent(), old.body);
    assert.ok((await hit.locator('.palette-time').textContent()).length > 0);
    if (name === 'phone') {
      const layout = await page.evaluate(() => {
        const d = document.querySelector('dialog[data-dialog=search]').getBoundingClientRect();
        const rows = [...document.querySelectorAll('dialog[data-dialog=search] [role=option], dialog[data-dialog=search] button')].map((b) => b.getBoundingClientRect().height);
        return { w: d.width, h: d.height, rows };
      });
      assert.ok(layout.w >= 380 && layout.h >= 800, `full screen: ${JSON.stringify(layout)}`);
      for (const h of layout.rows) assert.ok(h >= 40, `touch-sized: ${h}`);
    }
    await shot(page, `search-hit-${name}`);
    await page.keyboard.press('Enter');
    await page.waitForSelector(`.msg[data-seq="${old.seq}"].flash`);
    await page.waitForTimeout(200);
    const seen = await page.evaluate((seq) => {
      const pane = document.querySelector('.messages').getBoundingClientRect();
      const box = document.querySelector(`.msg[data-seq="${seq}"]`).getBoundingClientRect();
      const seqs = [...document.querySelectorAll('.msg[data-seq]')].map((r) => Number(r.dataset.seq));
      return { inView: box.top >= pane.top - 1 && box.bottom <= pane.bottom + 1, seqs };
    }, old.seq);
    assert.ok(seen.inView, 'the message is scrolled into view');
    assert.deepEqual(seen.seqs, Array.from({ length: 121 }, (_, i) => i + 1), 'the history is contiguous, each message once');
    await shot(page, `search-jump-${name}`);

    if (name === 'desktop') {
      // Many hits: a page, then "More results" (by keyboard: ↑ from the first wraps to it).
      const input = await palette(page, 'filler');
      await page.locator('dialog[data-dialog=search] .palette-message').nth(19).waitFor();
      assert.equal(await page.locator('dialog[data-dialog=search] .palette-message').count(), 20);
      const texts = await page.locator('.palette-message .palette-snippet').allTextContents();
      assert.equal(texts[0], 'alice filler 60', 'newest first');
      await page.keyboard.press('ArrowUp');
      assert.equal(await page.locator('[data-action=more-results]').getAttribute('aria-selected'), 'true');
      await shot(page, 'search-more-desktop');
      await page.keyboard.press('Enter');
      await page.locator('dialog[data-dialog=search] .palette-message').nth(39).waitFor();
      assert.equal(await page.locator('.palette-message.active .palette-snippet').textContent(), 'alice filler 40', 'the first new hit is active');
      await page.click('[data-action=more-results]');
      await page.locator('dialog[data-dialog=search] .palette-message').nth(59).waitFor();
      const ids = await page.locator('.palette-message').evaluateAll((els) => els.map((e) => e.dataset.message));
      assert.equal(new Set(ids).size, ids.length, 'no hit twice');

      // "In this conversation": only the open one's messages (here, all of them are).
      await input.fill('');
      await page.keyboard.press('Escape');
      await page.keyboard.press('Control+k');
      const scope = page.locator('[data-action=scope]');
      await scope.click();
      assert.equal(await scope.getAttribute('aria-pressed'), 'true');
      await page.keyboard.type('flowerpot');
      await page.locator('[data-section=messages] .palette-message').first().waitFor();
      assert.equal(await page.locator('[data-section=messages] .palette-head-label').textContent(), 'Messages in this conversation');
      await page.keyboard.press('Escape');
    }
    assertClean(page);
    await page.context().close();
  }
}));

test('markup in a hit is text, another group\'s messages never show, punctuation gives a hint', () => withServer(async ({ server, browser }) => {
  const { alice, bob, direct } = await aliceAndBob(server);
  const carol = await apiSignup(server.url, 'carol');
  const dave = await apiSignup(server.url, 'dave');
  const PAYLOAD = '<img src=x onerror=alert(1)> payload';
  await say(server, bob, direct, PAYLOAD);
  // Carol and Dave's group, which alice is not in, says the same word.
  const theirs = await rest(server.url, 'POST', '/conversations', { name: 'Secret club', members: [dave.user.id] }, carol.token);
  assert.equal(theirs.status, 201);
  await say(server, carol, theirs.body.id, 'secret payload for members only');
  await indexed(server, carol, 'payload');
  await indexed(server, alice, 'payload');

  const page = await newUserPage(browser, server.url);
  page.on('dialog', (d) => {
    page.problems.push(`dialog: ${d.message()}`);
    d.dismiss().catch(() => {});
  });
  await logIn(page, 'alice');
  await palette(page, 'payload');
  const hits = page.locator('dialog[data-dialog=search] .palette-message');
  await hits.first().waitFor();
  await page.waitForTimeout(300);
  assert.equal(await hits.count(), 1, 'only the conversation alice is in');
  assert.equal(await hits.first().locator('.palette-snippet').textContent(), PAYLOAD);
  assert.equal(await page.locator('dialog img').count(), 0, 'no <img> element was created');
  assert.equal(await page.locator(`[data-conversation="${theirs.body.id}"]`).count(), 0);
  await shot(page, 'search-xss-desktop');
  await page.emulateMedia({ colorScheme: 'dark' });
  await shot(page, 'search-xss-desktop-dark');
  await page.emulateMedia({ colorScheme: 'light' });

  // Only punctuation: a hint, no error toast. A word found nowhere: "No messages found".
  const input = page.locator('[data-palette-input]');
  await input.fill('!!!');
  await page.locator('[data-search-status=empty]').waitFor();
  assert.match(await page.locator('[data-search-status=empty]').textContent(), /word/);
  await input.fill('zebra');
  await page.locator('[data-section=messages] [data-search-status=done]').waitFor();
  assert.equal(await page.locator('[data-section=messages] [data-search-status=done]').textContent(), 'No messages found');
  assert.equal(await page.locator('.toast').count(), 0);
  assertClean(page);
}));

test('a server without search says so in the Messages section (phone)', () => withServer(async ({ server, browser }) => {
  await aliceAndBob(server);
  const page = await newUserPage(browser, server.url, PHONE);
  await logIn(page, 'alice');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.locator('[data-palette-input]').fill('bo');
  await page.locator('[data-search-status=search_disabled]').waitFor();
  assert.equal(await page.locator('[data-search-status=search_disabled]').textContent(), 'Message search is not available on this server');
  assert.equal(await page.locator('.palette-person[data-username=bob]').count(), 1, 'people are still found');
  await shot(page, 'search-disabled-phone');
  await page.locator('.palette-close').click();
  await page.locator('dialog[data-dialog=search]').waitFor({ state: 'detached' });
  assertClean(page);
}, { args: ['--no-search'] }));
