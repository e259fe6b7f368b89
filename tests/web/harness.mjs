// What the browser tests share: a real `alleato` server on the embedded stack (the binary
// `cargo xtask test` builds), Debian's chromium through playwright-core, and pages that record
// every console error, uncaught exception and dialog, so a test can insist there were none.

import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BINARY = process.env.ALLEATO_BIN || path.join(ROOT, 'target/debug/alleato');
export const SCREENSHOTS = process.env.ALLEATO_SCREENSHOTS || path.join(ROOT, 'target/web-screenshots');

// The mock model answers with 80 words, 50 ms apart: four seconds to reload or stop mid-answer.
const SERVER_ENV = {
  AI_MOCK_CHUNK_DELAY_MS: '50',
  AI_MOCK_REPLY_WORDS: '80',
  ALLEATO_RATE_LIMIT__AUTH_PER_MINUTE: '1000',
  RUST_LOG: 'warn',
};

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// Starts the server in a directory of its own (no `.env` or data of the checkout's is read) with
// only the variables given here, and waits until it is ready.
export async function startServer(extra = {}) {
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'alleato-web-'));
  const env = { PATH: process.env.PATH, HOME: dir, ALLEATO_ADDR: `127.0.0.1:${port}`, ALLEATO_DATA_DIR: path.join(dir, 'data') };
  const child = spawn(BINARY, ['serve'], { cwd: dir, env: { ...env, ...SERVER_ENV, ...extra }, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (chunk) => (log += chunk));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited (${child.exitCode}):\n${log}`);
    try {
      if ((await fetch(`${url}/ready`)).ok) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error(`the server did not become ready:\n${log}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', resolve)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    // This machine's network is closed: without these, chromium keeps trying to reach Google.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

// A page in a context of its own (its own storage: another person), recording problems.
export async function open(browser, base, options = {}) {
  const { allowHttpErrors = false, ...contextOptions } = options;
  const context = await browser.newContext({ baseURL: base, viewport: { width: 1200, height: 800 }, ...contextOptions });
  const page = await context.newPage();
  const problems = [];
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    // Chromium logs every 4xx/5xx fetch; a test of error messages expects some.
    if (allowHttpErrors && message.text().startsWith('Failed to load resource')) return;
    problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`exception: ${err.message}`));
  page.on('dialog', (dialog) => {
    problems.push(`dialog: ${dialog.message()}`);
    dialog.dismiss();
  });
  return { context, page, problems };
}

export async function screenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`) });
}

export async function asGuest(page) {
  await page.goto('/');
  await page.click('#guest');
  await page.locator('#shell').waitFor();
}

export async function register(page, email, password) {
  await page.goto('/');
  await page.fill('input[name=email]', email);
  await page.fill('input[name=password]', password);
  await page.click('#register');
  await page.locator('#shell').waitFor();
}

export async function send(page, text) {
  await page.fill('#input', text);
  await page.press('#input', 'Enter');
}

export function answer(page) {
  return page.locator('.message.assistant').last();
}

export async function finished(page, state = 'done') {
  await page.locator(`.message.assistant[data-state="${state}"]`).last().waitFor({ timeout: 20_000 });
}

// Waits until the answer streaming in shows at least `words` words.
export async function streamedWords(page, words) {
  await page.waitForFunction(
    (n) => {
      const node = document.querySelector('[data-streaming="true"] .text');
      return node && node.innerText.trim().split(/\s+/).length >= n;
    },
    words,
    { timeout: 20_000 },
  );
}

// The chat as the server stores it, read with the page's own session.
export function stored(page, chatId) {
  return page.evaluate(async (id) => {
    const token = localStorage.getItem('alleato.token');
    const response = await fetch(`/api/v1/chats/${id}`, { headers: { Authorization: `Bearer ${token}` } });
    return response.json();
  }, chatId);
}

export function chatIdOf(page) {
  const match = new URL(page.url()).pathname.match(/^\/chat\/(.+)$/);
  return match && match[1];
}

export function textOf(message) {
  return message.parts.filter((p) => p.type === 'text').map((p) => p.text).join('');
}
