// Shared helpers for the browser tests: start and stop a real Kanect server (the `server`
// example, on 127.0.0.1 port 0 with a temporary sled directory), make an administrator with its
// `create-admin` subcommand, launch the system Chromium through playwright-core, and sign
// users up through the UI or the API. Every wait is bounded.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '..', '..');

/** The server binary: $KANECT_SERVER_BIN, else the debug example under the cargo target dir. */
export const SERVER_BIN = process.env.KANECT_SERVER_BIN
  || join(process.env.CARGO_TARGET_DIR ? resolve(REPO, process.env.CARGO_TARGET_DIR) : join(REPO, 'target'), 'debug', 'examples', 'server');

/** Where screenshots go (ignored by git). */
export const SHOTS = join(REPO, 'target', 'e2e-screenshots');

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
];

/** A fresh temporary directory, removed by `cleanup()`. */
export function tempDir(prefix) {
  return mkdtempSync(join(tmpdir(), prefix));
}

/**
 * Starts the server; resolves with `{url, port, dataDir, stop()}` once it prints its address.
 * `port` 0 picks a free one; pass the old port (and data dir) to restart "the same" server.
 * `args` are further flags (e.g. `['--limit-groups', 'off']`).
 */
export function startServer({ dataDir = tempDir('kanect-e2e-'), port = 0, timeoutMs = 30_000, args = [] } = {}) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(SERVER_BIN, ['--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, '--log', 'warn', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not print its address within ${timeoutMs} ms\n${out}\n${err}`));
    }, timeoutMs);
    child.stderr.on('data', (d) => {
      err += d;
      if (err.length > 100_000) err = err.slice(-50_000);
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening\n${out}\n${err}`));
    });
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/127\.0\.0\.1:(\d+))/);
      if (!m) return;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      const server = {
        url: m[1],
        port: Number(m[2]),
        dataDir,
        process: child,
        stderr: () => err,
        /** SIGTERM, wait (bounded) for a clean exit, SIGKILL if it hangs. */
        stop(timeout = 15_000) {
          return new Promise((done) => {
            if (child.exitCode !== null || child.signalCode !== null) return done(child.exitCode);
            const kill = setTimeout(() => child.kill('SIGKILL'), timeout);
            child.once('exit', (code) => {
              clearTimeout(kill);
              done(code);
            });
            child.kill('SIGTERM');
          });
        },
      };
      resolvePromise(server);
    });
  });
}

/** Launches headless Chromium (playwright gives each launch a fresh temporary profile). */
export function launchBrowser() {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, timeout: 60_000 });
}

/**
 * A new browser context + page for one user, with every console error and page error
 * recorded in `page.problems` (a CSP violation or an uncaught exception fails the test).
 */
export async function newUserPage(browser, baseURL, viewport = { width: 1280, height: 800 }) {
  const context = await browser.newContext({ baseURL, viewport });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  page.problems = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !/Failed to load resource|WebSocket connection to .* failed|ERR_CONNECTION_REFUSED/.test(msg.text())) {
      page.problems.push(`console: ${msg.text()}`);
    }
  });
  page.on('pageerror', (e) => page.problems.push(`pageerror: ${e.message}`));
  return page;
}

/** Signs a user up through the sign-up form and waits for the signed-in shell. */
export async function signUp(page, { username, password = 'a calm river 42', displayName, email } = {}) {
  await page.goto('/#/signup');
  await page.fill('#username', username);
  if (displayName) await page.fill('#display_name', displayName);
  if (email) await page.fill('#email', email);
  await page.fill('#password', password);
  await page.click('form[data-form=signup] button[type=submit]');
  await page.waitForSelector('.shell', { timeout: 15_000 });
  await waitConnected(page);
}

/** Logs in through the form. */
export async function logIn(page, username, password = 'a calm river 42') {
  await page.goto('/#/login');
  await page.fill('#username', username);
  await page.fill('#password', password);
  await page.click('form[data-form=login] button[type=submit]');
  await page.waitForSelector('.shell', { timeout: 15_000 });
  await waitConnected(page);
}

/** Waits for the connection pill to say connected. */
export async function waitConnected(page, timeout = 20_000) {
  await page.waitForSelector('.conn[data-connection=connected]', { timeout });
}

/** Finds a user with the filter box and opens the direct conversation with them. */
export async function openChatWith(page, username) {
  await page.fill('.side-search .filter', username);
  const item = page.locator(`.list .item[data-username="${username}"]`).first();
  await item.waitFor({ timeout: 10_000 });
  await item.click();
  await page.waitForSelector(`.chat .chat-title`, { timeout: 10_000 });
  await page.fill('.side-search .filter', '');
}

/** Types and sends a message in the open conversation. */
export async function sendText(page, text) {
  await page.fill('.composer-input', text);
  await page.press('.composer-input', 'Enter');
}

/** The bubbles (message rows) whose text equals `text`, as a locator. */
export function bubbles(page, text) {
  return page.locator('.messages .msg .msg-body', { hasText: text }).filter({ hasText: new RegExp(`^${escapeRe(text)}$`) });
}

function escapeRe(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Saves a screenshot under target/e2e-screenshots/. */
export async function shot(page, name) {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
}

/** Removes a temporary directory. */
export function cleanup(dir) {
  if (dir) rmSync(dir, { recursive: true, force: true });
}

/** A username unlikely to collide within one server. */
export function uniqueName(prefix) {
  return `${prefix}${Math.random().toString(36).slice(2, 7)}`;
}

/**
 * Runs `body({server, browser})` with its own server (port 0, temporary sled dir) and its own
 * browser, both stopped afterwards whatever happens. `prepare(dataDir)`, if given, runs on the
 * data directory before the server starts (e.g. `create-admin`); `args` are further flags for
 * the server.
 */
export async function withServer(body, { prepare, args } = {}) {
  const dataDir = tempDir('kanect-e2e-');
  if (prepare) await prepare(dataDir);
  const server = await startServer({ dataDir, args });
  let browser = null;
  try {
    browser = await launchBrowser();
    await body({ server, browser });
  } finally {
    if (browser) await browser.close().catch(() => {});
    await server.stop();
    cleanup(server.dataDir);
  }
}

/** Runs `server create-admin NAME` on a data directory, password on stdin; resolves on exit 0. */
export function createAdmin(dataDir, username, password) {
  return new Promise((resolve, reject) => {
    const child = spawn(SERVER_BIN, ['--log', 'warn', '--data-dir', dataDir, 'create-admin', username], {
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.stderr.on('data', (d) => { err += d; });
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`create-admin exited with ${code}: ${err}`));
    });
    child.stdin.end(`${password}\n`);
  });
}

/** Calls the REST API from Node (bearer token when given); resolves with `{status, body}`. */
export async function rest(baseURL, method, path, body, token) {
  const headers = { 'Content-Type': 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(`${baseURL}/api/v1${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** Creates an account through the API; resolves with `{token, user}`. */
export async function apiSignup(baseURL, username, password = 'a calm river 42', extra = {}) {
  const res = await rest(baseURL, 'POST', '/auth/signup', { username, password, ...extra });
  if (res.status !== 201) throw new Error(`signup ${username}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/**
 * Signs alice and bob up through the API and opens their direct conversation (from bob's
 * side); resolves with both and the conversation's id. It has no message yet, so it is in
 * neither list until one is sent: open it by its address (`/#/c/<id>`).
 */
export async function aliceAndBob(server) {
  const alice = await apiSignup(server.url, 'alice');
  const bob = await apiSignup(server.url, 'bob');
  const res = await rest(server.url, 'POST', '/conversations/direct', { user: alice.user.id }, bob.token);
  assert.equal(res.status, 200);
  return { alice, bob, direct: res.body.id };
}

/** Fails the test if a page logged a console error or threw (CSP violations show up there). */
export function assertClean(...pages) {
  for (const page of pages) {
    if (page.problems.length) throw new Error(`browser problems:\n${page.problems.join('\n')}`);
  }
}
