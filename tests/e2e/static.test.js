// Guards on the web app's source and headers: nothing parses user data as HTML, no inline
// script or handler (the CSP forbids them anyway), and the server sends a strict CSP. And the
// web app's caching: a reload revalidates every file with a 304, the module graph is preloaded,
// a gzip answer decodes to the file itself.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { get } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import {
  apiSignup, assertClean, bubbles, cleanup, newUserPage, openChatWith, sendText, shot, signUp, startServer, waitConnected, withServer,
} from './harness.js';

const WEB = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'kanect-http', 'web');

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

test('the web app never parses strings as HTML and has no inline script, handler or style', () => {
  const all = files(WEB);
  assert.ok(all.some((f) => f.endsWith('app.js')));
  for (const file of all) {
    const text = readFileSync(file, 'utf8');
    const name = file.slice(WEB.length + 1);
    if (file.endsWith('.js')) {
      for (const sink of ['innerHTML', 'outerHTML', 'insertAdjacentHTML', 'document.write', 'eval(', 'new Function', 'createContextualFragment']) {
        assert.ok(!text.includes(sink), `${name} uses ${sink}`);
      }
    }
    if (file.endsWith('.html')) {
      assert.doesNotMatch(text, /<script(?![^>]*\bsrc=)[^>]*>/i, `${name} has an inline script`);
      assert.doesNotMatch(text, /\son[a-z]+\s*=/i, `${name} has an inline event handler`);
      assert.doesNotMatch(text, /\sstyle\s*=/i, `${name} has an inline style`);
      assert.doesNotMatch(text, /https?:\/\//i, `${name} loads something from another site`);
    }
    if (file.endsWith('.css')) assert.doesNotMatch(text, /@import|url\(\s*['"]?https?:/i, `${name} loads something from another site`);
  }
});

test('the server sends the web app with a strict Content-Security-Policy and nosniff', async () => {
  const server = await startServer();
  try {
    for (const path of ['/', '/app.js', '/style.css', '/views/chat.js']) {
      const res = await fetch(server.url + path, { signal: AbortSignal.timeout(10_000) });
      assert.equal(res.status, 200, path);
      const csp = res.headers.get('content-security-policy') || '';
      assert.match(csp, /default-src 'self'/, path);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, path);
      assert.match(csp, /frame-ancestors 'none'/, path);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', path);
    }
    const js = await fetch(`${server.url}/app.js`);
    assert.match(js.headers.get('content-type'), /^text\/javascript/);
  } finally {
    await server.stop();
    cleanup(server.dataDir);
  }
});

/**
 * The web app's own files the page fetched: path → {status, body and total bytes on the wire,
 * resource type, whether the request was conditional}.
 */
function recordStatic(page, server) {
  const seen = new Map();
  page.on('requestfinished', async (request) => {
    const url = new URL(request.url());
    if (url.origin !== server.url || url.pathname.startsWith('/api/') || url.pathname.startsWith('/ws')) return;
    const response = await request.response();
    const sizes = await request.sizes();
    seen.set(url.pathname, {
      status: response.status(),
      body: sizes.responseBodySize,
      bytes: sizes.responseBodySize + sizes.responseHeadersSize,
      type: request.resourceType(),
      conditional: 'if-none-match' in await request.allHeaders(),
    });
  });
  return seen;
}

function total(seen) {
  return [...seen.values()].reduce((sum, file) => sum + file.bytes, 0);
}

test('a returning browser revalidates the web app with 304s, preloads the module graph, and still works', (t) => withServer(async ({ server, browser }) => {
  await apiSignup(server.url, 'bob');
  const page = await newUserPage(browser, server.url);
  const first = recordStatic(page, server);
  await signUp(page, { username: 'alice' });
  await page.waitForLoadState('networkidle');
  t.diagnostic(`first visit: ${first.size} requests, ${total(first)} bytes`);

  // Every module the app loads is preloaded from index.html (so the browser asks for the whole
  // graph in one round, not import by import), and nothing else is.
  const html = await (await fetch(server.url + '/', { signal: AbortSignal.timeout(10_000) })).text();
  const preloaded = [...html.matchAll(/<link rel="modulepreload" href="([^"]+)">/g)].map((m) => m[1]).sort();
  const modules = [...first.entries()].filter(([path, file]) => file.type === 'script' && path !== '/sw.js').map(([path]) => path).sort();
  assert.ok(modules.includes('/app.js') && modules.includes('/views/chat.js'), modules.join(' '));
  assert.deepEqual(preloaded, modules);

  const again = recordStatic(page, server);
  await page.reload();
  await page.waitForSelector('.shell', { timeout: 15_000 });
  await waitConnected(page);
  await page.waitForLoadState('networkidle');
  t.diagnostic(`reload: ${again.size} requests, ${total(again)} bytes, ${[...again.values()].filter((f) => f.status === 304).length} of them 304`);
  assert.ok(again.has('/') && again.has('/app.js') && again.has('/style.css'), [...again.keys()].join(' '));
  // Chromium reports a navigation or an image answered with a 304 as the cached 200 it
  // stands for; what shows that nothing was sent again is the conditional request and the
  // empty body on the wire.
  for (const [path, file] of again) {
    assert.ok(file.conditional, `${path} was asked for without If-None-Match`);
    assert.equal(file.body, 0, `${path} was sent again`);
    if (file.type === 'script' || file.type === 'stylesheet') assert.equal(file.status, 304, path);
  }
  assert.ok(total(again) < 20_000, `a reload moved ${total(again)} bytes`);

  // The app still works after the revalidated load: a message goes out and shows.
  await openChatWith(page, 'bob');
  await sendText(page, 'after a reload');
  await bubbles(page, 'after a reload').first().waitFor();
  await shot(page, 'static-reload-desktop');
  await page.setViewportSize({ width: 390, height: 844 });
  await shot(page, 'static-reload-phone');
  assertClean(page);
}));

/** GET over node:http, so the request carries exactly the headers given (fetch adds its own). */
function rawGet(url, headers) {
  return new Promise((resolvePromise, reject) => {
    const request = get(url, { headers, timeout: 10_000 }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => resolvePromise({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    request.on('timeout', () => request.destroy(new Error(`${url} timed out`)));
    request.on('error', reject);
  });
}

test('a gzip answer decodes to the file itself, and identity is the file', async () => {
  const server = await startServer();
  try {
    for (const path of ['app.js', 'style.css', 'views/chat.js', 'favicon.svg']) {
      const original = readFileSync(join(WEB, path));
      const zipped = await rawGet(`${server.url}/${path}`, { 'Accept-Encoding': 'br;q=1, gzip;q=0.8' });
      assert.equal(zipped.status, 200, path);
      assert.equal(zipped.headers['content-encoding'], 'gzip', path);
      assert.equal(zipped.headers.vary, 'Accept-Encoding', path);
      assert.ok(zipped.body.length < original.length, `${path}: ${zipped.body.length} >= ${original.length}`);
      assert.ok(gunzipSync(zipped.body).equals(original), path);
      const plain = await rawGet(`${server.url}/${path}`, {});
      assert.equal(plain.headers['content-encoding'], undefined, path);
      assert.ok(plain.body.equals(original), path);
      assert.notEqual(plain.headers.etag, zipped.headers.etag, path);
    }
  } finally {
    await server.stop();
    cleanup(server.dataDir);
  }
});
