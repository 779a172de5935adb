// Message formatting (kanect-http/web/markdown.js) in a real browser: each mark of the subset
// becomes its element, unclosed marks and words with underscores stay as written, only http(s)
// links become links, hostile bodies create no other element and run nothing, and one to three
// emoji alone are shown large.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from '../../kanect-http/web/markdown.js';
import {
  aliceAndBob, assertClean, bubbles, logIn, newUserPage, rest, sendText, shot, withServer,
} from './harness.js';

const PHONE = { width: 390, height: 844 };
const LINK_ATTRS = ' target="_blank" rel="noopener noreferrer nofollow"';

/** Sends each body through the REST API, in order. */
async function sendAll(server, from, conversation, bodies, name) {
  for (const [i, body] of bodies.entries()) {
    const res = await rest(server.url, 'POST', `/conversations/${conversation}/messages`,
      { client_id: `${name}-${i}`, body }, from.token);
    assert.equal(res.status, 200, JSON.stringify(res.body));
  }
}

/** Opens the conversation and waits for `count` messages; resolves with their bodies' markup, in order. */
async function renderedBodies(page, conversation, count) {
  await page.goto(`/#/c/${conversation}`);
  await page.waitForFunction((n) => document.querySelectorAll('.messages .msg[data-seq]').length >= n, count);
  // Reading innerHTML is how the test sees the DOM; the app never writes it.
  return page.evaluate(() => [...document.querySelectorAll('.messages .msg[data-seq]')]
    .map((row) => row.querySelector('.msg-body').innerHTML));
}

/** Every link in the message pane: its href, target and rel. */
function links(page) {
  return page.evaluate(() => [...document.querySelectorAll('.messages a')]
    .map((a) => ({ href: a.getAttribute('href'), target: a.getAttribute('target'), rel: a.getAttribute('rel') })));
}

/** Fails on every link that is not http(s) with target=_blank and rel noopener noreferrer. */
async function assertLinksSafe(page) {
  for (const link of await links(page)) {
    assert.match(link.href, /^https?:\/\//, `href ${link.href}`);
    assert.equal(link.target, '_blank');
    assert.ok(link.rel.split(' ').includes('noopener') && link.rel.split(' ').includes('noreferrer'), `rel ${link.rel}`);
  }
}

/** Body → the markup it must render as (links' target and rel left out: checked apart). */
const FORMATS = [
  ['**bold** and *italic* and _also_ and ~~gone~~', '<strong>bold</strong> and <em>italic</em> and <em>also</em> and <del>gone</del>'],
  ['run `cargo build --example server` now', 'run <code>cargo build --example server</code> now'],
  ['```\nfn main() {\n    println!("*hi* _there_");\n}\n```', '<pre><code>fn main() {\n    println!("*hi* _there_");\n}</code></pre>'],
  ['```js\nlet a = 1;\n```\nthat was **code**', '<pre><code>let a = 1;</code></pre>that was <strong>code</strong>'],
  ['> quoted *line*\n> second line\nmy answer', '<blockquote>quoted <em>line</em>\nsecond line</blockquote>my answer'],
  ['**bold _and italic_**', '<strong>bold <em>and italic</em></strong>'],
  ['***both***', '<strong><em>both</em></strong>'],
  ['**bold', '**bold'],
  ['`code', '`code'],
  ['```unclosed\nstill text', '```unclosed\nstill text'],
  ['*not closed and _not either', '*not closed and _not either'],
  ['snake_case_names and __dunder__x', 'snake_case_names and __dunder__x'],
  ['a*b*c and 2*3*4 and 5 * 6 * 7', 'a*b*c and 2*3*4 and 5 * 6 * 7'],
  ['`**not bold** https://example.com`', '<code>**not bold** https://example.com</code>'],
  ['see https://example.com/a?b=1, then www.example.org.', 'see <a href="https://example.com/a?b=1">https://example.com/a?b=1</a>, then <a href="https://www.example.org/">www.example.org</a>.'],
  ['[the docs](https://example.com/docs_(v2)) and *[em link](http://example.com)*', '<a href="https://example.com/docs_(v2)">the docs</a> and <em><a href="http://example.com/">em link</a></em>'],
  ['[**bold** link](https://example.com/x)', '<a href="https://example.com/x"><strong>bold</strong> link</a>'],
];

test('each mark renders as its element; unclosed marks and snake_case stay as written', () => withServer(async ({ server, browser }) => {
  const { bob, direct } = await aliceAndBob(server);
  await sendAll(server, bob, direct, FORMATS.map(([body]) => body), 'fmt');
  const page = await newUserPage(browser, server.url);
  await logIn(page, 'alice');
  const rendered = await renderedBodies(page, direct, FORMATS.length);
  await assertLinksSafe(page);
  FORMATS.forEach(([body, want], i) => {
    assert.equal(rendered[i].split(LINK_ATTRS).join(''), want, `body ${JSON.stringify(body)}`);
  });
  // The list's preview is plain text: marks left out, no element.
  const item = page.locator('.list .item[data-username="bob"] .item-sub').first();
  assert.equal(await item.textContent(), 'bold link');
  assert.equal(await item.locator('*').count(), 0);
  assertClean(page);
}));

/** Hostile bodies: each must render exactly as this markup (no other element, no other link). */
const HOSTILE = [
  ['[x](javascript:alert(1))', '[x](javascript:alert(1))'],
  ['[x](JaVaScRiPt:alert(1)) [y](data:text/html,<script>alert(1)</script>) [z](vbscript:msgbox(1)) [w](/relative)',
    '[x](JaVaScRiPt:alert(1)) [y](data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;) [z](vbscript:msgbox(1)) [w](/relative)'],
  ['<img src=x onerror=alert(1)>', '&lt;img src=x onerror=alert(1)&gt;'],
  ['**<script>alert(1)</script>**', '<strong>&lt;script&gt;alert(1)&lt;/script&gt;</strong>'],
  ['https://example.com/a"onmouseover="alert(1)', '<a href="https://example.com/a">https://example.com/a</a>"onmouseover="alert(1)'],
  ["https://example.com/b'onfocus='alert(1)", '<a href="https://example.com/b">https://example.com/b</a>\'onfocus=\'alert(1)'],
  ['<https://example.com>', '&lt;<a href="https://example.com/">https://example.com</a>&gt;'],
  ['data:text/html,<script>alert(1)</script> javascript:alert(1)', 'data:text/html,&lt;script&gt;alert(1)&lt;/script&gt; javascript:alert(1)'],
  ['[click](https://example.com" onclick="alert(1))', '[click](<a href="https://example.com/">https://example.com</a>" onclick="alert(1))'],
  ['`[x](https://example.com) <b>hi</b>`', '<code>[x](https://example.com) &lt;b&gt;hi&lt;/b&gt;</code>'],
  ['```\n<img src=x onerror=alert(1)>\n[x](https://example.com) **b**\n```', '<pre><code>&lt;img src=x onerror=alert(1)&gt;\n[x](https://example.com) **b**</code></pre>'],
  ['> <svg onload=alert(1)>', '<blockquote>&lt;svg onload=alert(1)&gt;</blockquote>'],
];

test('hostile bodies create no other element, no javascript: or data: link, and run nothing', () => withServer(async ({ server, browser }) => {
  const { alice, bob, direct } = await aliceAndBob(server);
  await sendAll(server, bob, direct, HOSTILE.map(([body]) => body), 'xss');
  const page = await newUserPage(browser, server.url);
  const dialogs = [];
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    dialog.dismiss().catch(() => {});
  });
  await logIn(page, 'alice');
  const rendered = await renderedBodies(page, direct, HOSTILE.length);
  HOSTILE.forEach(([body, want], i) => {
    assert.equal(rendered[i].split(LINK_ATTRS).join(''), want, `body ${JSON.stringify(body)}`);
  });

  // The composer's way in too: what alice types is rendered the same for her.
  const typed = '**<img src=y onerror=alert(2)>** [a](javascript:alert(3))';
  await sendText(page, typed);
  await bubbles(page, '<img src=y onerror=alert(2)> [a](javascript:alert(3))').waitFor();

  // Hover and focus everything that could carry a handler.
  for (const body of await page.locator('.messages .msg-body').all()) await body.hover();
  const tags = await page.evaluate(() => [...new Set([...document.querySelectorAll('.messages-inner .msg-body *')].map((el) => el.localName))].sort());
  assert.deepEqual(tags, ['a', 'blockquote', 'code', 'pre', 'strong']);
  const hrefs = await page.evaluate(() => [...document.querySelectorAll('[href], [src], [action], [formaction]')]
    .map((el) => el.getAttribute('href') || el.getAttribute('src') || el.getAttribute('action') || el.getAttribute('formaction')));
  assert.ok(hrefs.every((href) => !/^\s*(javascript|data|vbscript):/i.test(href)), `hrefs ${JSON.stringify(hrefs)}`);
  const handlers = await page.evaluate(() => [...document.querySelectorAll('.messages *')]
    .flatMap((el) => [...el.attributes].map((a) => a.name)).filter((name) => name.startsWith('on')));
  assert.deepEqual(handlers, []);
  await assertLinksSafe(page);
  assert.equal(await page.locator('#app img, #app script, #app svg image, #app iframe').count(), 0);
  assert.deepEqual(dialogs, []);
  assert.ok(alice.user.id);
  assertClean(page);
}));

test('one to three emoji alone are shown large; with text or four of them, not', () => withServer(async ({ server, browser }) => {
  const { bob, direct } = await aliceAndBob(server);
  const cases = [['👍', true], ['🎉🎉', true], ['👨‍👩‍👧', true], ['👍🏽 🇫🇷', true], ['❤️', true], ['👍 ok', false], ['🎉🎉🎉🎉', false], ['ok', false]];
  await sendAll(server, bob, direct, cases.map(([body]) => body), 'emoji');
  const page = await newUserPage(browser, server.url);
  await logIn(page, 'alice');
  await renderedBodies(page, direct, cases.length);
  const jumbo = await page.evaluate(() => [...document.querySelectorAll('.messages .msg[data-seq] .bubble')]
    .map((bubble) => bubble.classList.contains('jumbo')));
  assert.deepEqual(jumbo, cases.map(([, big]) => big), JSON.stringify(cases));
  const size = await page.evaluate(() => parseFloat(getComputedStyle(document.querySelector('.bubble.jumbo .msg-body')).fontSize));
  assert.ok(size >= 32, `jumbo font size ${size}`);
  await shot(page, 'markdown-jumbo-desktop');
  assertClean(page);
}));

test('a conversation with every format, at desktop and phone width', () => withServer(async ({ server, browser }) => {
  const { alice, bob, direct } = await aliceAndBob(server);
  await sendAll(server, bob, direct, [
    'Release notes are **ready**: *please* check the _wording_ and the ~~old~~ new numbers.',
    'The build command is `cargo build --example server`, and the config:\n```toml\n[server]\nlisten = "127.0.0.1:8080"\n    # indented comment kept\n```',
  ], 'bob');
  await sendAll(server, alice, direct, [
    '> please check the _wording_\nDone, see [the draft](https://example.com/draft) or www.example.org',
    '**bold _and italic_** and a bare link https://example.com/a_b?c=1.',
    '🎉🎉',
  ], 'alice');
  await sendAll(server, bob, direct, ['👍🏽', 'snake_case_names, 2*3*4 and **unclosed stay as written'], 'bob2');
  for (const [viewport, name] of [[undefined, 'desktop'], [PHONE, 'phone']]) {
    const page = await newUserPage(browser, server.url, viewport);
    await logIn(page, 'alice');
    await renderedBodies(page, direct, 7);
    await page.waitForTimeout(200);
    await shot(page, `markdown-${name}`);
    assertClean(page);
    await page.context().close();
  }
}));

test('the parser stays quick on hostile input', () => {
  const inputs = [
    '*('.repeat(2000), '_a '.repeat(1333), '`'.repeat(4000), '> '.repeat(2000), '[x]('.repeat(800),
    '**a '.repeat(1000), '```\n'.repeat(1000), 'https://x.y/'.repeat(333), '~~a'.repeat(1333),
    Array.from({ length: 4000 }, (_, i) => '*_~`['[i % 5]).join(''),
  ];
  for (const input of inputs) {
    const start = performance.now();
    parse(input);
    const ms = performance.now() - start;
    assert.ok(ms < 1000, `${JSON.stringify(input.slice(0, 12))}… took ${ms} ms`);
  }
});
