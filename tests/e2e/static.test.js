// Guards on the web app's source and headers: nothing parses user data as HTML, no inline
// script or handler (the CSP forbids them anyway), and the server sends a strict CSP.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { cleanup, startServer } from './harness.js';

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
