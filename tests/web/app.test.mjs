// The web app in a real browser (Debian's chromium) against the real server on the embedded
// stack. Each test is one person's visit, in a browser context of its own; every test fails on
// a console error, an uncaught exception or a dialog (an alert() from injected markup would be one).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  answer, asGuest, chatIdOf, finished, launch, open, register, screenshot, send, startServer, stored,
  streamedWords, textOf,
} from './harness.mjs';

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

// A 1×1 PNG.
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==',
  'base64',
);

test('a guest sends a message and watches the answer stream in; model output renders inert', async () => {
  const { page, problems, context } = await open(browser, server.url);
  await asGuest(page);
  await screenshot(page, 'new-chat');
  await send(page, 'Hello <img src=x onerror=alert(1)> [click](javascript:alert(1)) **bold** `code`');
  await page.locator('[data-streaming="true"]').waitFor();
  assert.equal(await page.locator('#stop').isVisible(), true, 'Stop shows while the answer streams');
  await finished(page);
  const id = chatIdOf(page);
  assert.ok(id, 'the address names the new chat');
  const chat = await stored(page, id);
  const reply = textOf(chat.messages[1]);
  assert.match(reply, /<img src=x onerror=alert\(1\)>/, 'the mock echoes the markup');
  const shown = answer(page);
  assert.ok((await shown.innerText()).includes('<img src=x onerror=alert(1)>'), 'the markup shows as text');
  assert.equal(await page.locator('.messages img').count(), 0, 'no image element from model output');
  assert.equal(await page.locator('.messages a[href^="javascript"]').count(), 0, 'no javascript: link');
  assert.ok((await shown.innerText()).includes('[click](javascript:alert(1))'), 'the unsafe link stays text');
  assert.equal(await shown.locator('strong').first().innerText(), 'bold', 'Markdown still renders');
  // The answer's text on screen is what the server stored.
  assert.equal(await page.locator('#stop').isVisible(), false);
  // The chat is in the list, with the title the server gave it.
  await page.locator(`#chat-list a[data-id="${id}"]`).waitFor();
  await screenshot(page, 'chat');
  await context.close();
  assert.deepEqual(problems, []);
});

test('reloading mid-answer picks the stream up where it was', async () => {
  const { page, problems, context } = await open(browser, server.url);
  await asGuest(page);
  await page.selectOption('#model', 'chat-model-reasoning');
  await send(page, 'Tell me about rivers and lakes please');
  await streamedWords(page, 6);
  const id = chatIdOf(page);
  await page.reload();
  await page.locator('[data-streaming="true"]').waitFor({ timeout: 10_000 });
  await finished(page);
  const chat = await stored(page, id);
  assert.equal(chat.messages.length, 2);
  assert.equal(await page.locator('.message.assistant').count(), 1, 'the answer shows once');
  assert.equal((await answer(page).locator('.text').innerText()).trim(), textOf(chat.messages[1]).trim());
  assert.ok(textOf(chat.messages[1]).split(/\s+/).length >= 80, 'the whole answer arrived');
  await page.locator('.message.assistant details.reasoning').waitFor();
  assert.match(await page.locator('.message.assistant details.reasoning').innerText(), /Reasoning/);
  assert.ok(chat.messages[1].parts.some((p) => p.type === 'reasoning'), 'the reasoning is stored too');
  await page.click('.message.assistant details.reasoning summary');
  await screenshot(page, 'answer');
  await context.close();
  assert.deepEqual(problems, []);
});

test('stop ends the answer where it is, and the partial answer is kept', async () => {
  const { page, problems, context } = await open(browser, server.url);
  await asGuest(page);
  await send(page, 'Count slowly to a hundred');
  await streamedWords(page, 4);
  await page.click('#stop');
  await finished(page, 'stopped');
  assert.equal(await page.locator('#stop').isVisible(), false);
  assert.equal(await page.locator('#send').isVisible(), true);
  const chat = await stored(page, chatIdOf(page));
  const words = textOf(chat.messages[1]).split(/\s+/).length;
  assert.ok(words < 80, `the stored answer was cut short (${words} words)`);
  await context.close();
  assert.deepEqual(problems, []);
});

test('votes, edit-and-resend and regenerate', async () => {
  const { page, problems, context } = await open(browser, server.url);
  await asGuest(page);
  await send(page, 'first question');
  await finished(page);
  await page.click('.message.assistant button[aria-label="Vote up"]');
  await page.locator('.message.assistant button[aria-label="Vote up"][aria-pressed="true"]').waitFor();
  await page.reload();
  await page.locator('.message.assistant button[aria-label="Vote up"][aria-pressed="true"]').waitFor();
  await page.click('.message.assistant button[aria-label="Vote down"]');
  await page.locator('.message.assistant button[aria-label="Vote down"][aria-pressed="true"]').waitFor();

  await page.click('.message.user button:text("Edit")');
  assert.equal(await page.inputValue('#input'), 'first question');
  await send(page, 'second question');
  await finished(page);
  const id = chatIdOf(page);
  let chat = await stored(page, id);
  assert.deepEqual(chat.messages.map((m) => m.role), ['user', 'assistant']);
  assert.equal(textOf(chat.messages[0]), 'second question');
  assert.match(textOf(chat.messages[1]), /You wrote: second question\./);
  assert.equal(await page.locator('.message').count(), 2);

  const before = chat.messages[1].id;
  await page.click('.message.assistant button:text("Regenerate")');
  await page.locator('[data-streaming="true"]').waitFor();
  await finished(page);
  chat = await stored(page, id);
  assert.equal(chat.messages.length, 2);
  assert.notEqual(chat.messages[1].id, before, 'a new answer replaced the old one');
  assert.equal(await page.locator('.message').count(), 2);
  await context.close();
  assert.deepEqual(problems, []);
});

test('a public chat opens read-only for another person', async () => {
  const owner = await open(browser, server.url);
  await register(owner.page, `owner-${Date.now()}@example.com`, 'correct horse battery');
  await send(owner.page, 'Share this with the team');
  await finished(owner.page);
  await owner.page.click('#visibility');
  await owner.page.locator('#share').waitFor();
  const link = await owner.page.inputValue('#share-link');
  assert.match(link, /\/chat\/[0-9a-f-]{36}$/);
  await owner.page.click('#copy-link');
  await owner.page.locator('#copied:not(:empty)').waitFor();

  // The visitor's reload after the owner makes it private again answers 404.
  const visitor = await open(browser, server.url, { allowHttpErrors: true });
  await visitor.page.goto(link);
  await visitor.page.click('#guest');
  await visitor.page.locator('.message.user', { hasText: 'Share this with the team' }).waitFor();
  await visitor.page.locator('.message.assistant[data-state="done"]').waitFor();
  assert.equal(await visitor.page.locator('#readonly').isVisible(), true);
  assert.equal(await visitor.page.locator('#composer').isVisible(), false);
  assert.equal(await visitor.page.locator('#chat-actions').isVisible(), false);
  assert.equal(await visitor.page.locator('button[aria-label="Vote up"]').count(), 0);
  await screenshot(visitor.page, 'shared-read-only');

  // Private again: the link no longer opens it for the visitor.
  await owner.page.click('#visibility');
  await owner.page.locator('#share').waitFor({ state: 'hidden' });
  await visitor.page.reload();
  await visitor.page.locator('#banner', { hasText: 'Not found.' }).waitFor();
  assert.equal(await visitor.page.locator('.message').count(), 0);
  await owner.context.close();
  await visitor.context.close();
  assert.deepEqual(owner.problems, []);
  assert.deepEqual(visitor.problems, []);
});

test('an image is uploaded, previewed, sent and shown in the chat', async () => {
  const { page, problems, context } = await open(browser, server.url);
  await asGuest(page);
  await page.setInputFiles('#file', { name: 'dot.png', mimeType: 'image/png', buffer: PNG });
  await page.locator('.chip[data-state="uploaded"] img').waitFor();
  await send(page, 'What is in this picture?');
  await finished(page);
  const image = page.locator('.message.user .file img');
  await image.waitFor();
  await page.waitForFunction(() => {
    const img = document.querySelector('.message.user .file img');
    return img && img.src.startsWith('blob:') && img.complete && img.naturalWidth === 1;
  });
  const chat = await stored(page, chatIdOf(page));
  const file = chat.messages[0].parts.find((p) => p.type === 'file');
  assert.equal(file.mediaType, 'image/png');
  assert.match(file.url, /^\/api\/v1\/files\/[0-9a-f-]{36}\/content$/);
  assert.equal(await page.locator('.attachments .chip').count(), 0, 'the composer is clear again');
  await context.close();
  assert.deepEqual(problems, []);
});

test('log out and back in: the chats are there, renamed, paged and deletable', async () => {
  const { page, problems, context } = await open(browser, server.url);
  const email = `back-${Date.now()}@example.com`;
  await register(page, email, 'a long enough password');
  // 21 older chats through the API: more than one page of the list.
  await page.evaluate(async () => {
    const token = localStorage.getItem('alleato.token');
    for (let i = 0; i < 21; i += 1) {
      await fetch('/api/v1/chats', {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ title: `Old chat ${i}` }),
      });
    }
  });
  await send(page, 'Remember the Danube');
  await finished(page);
  const id = chatIdOf(page);
  await page.click('#rename');
  await page.fill('#rename-input', 'Danube notes');
  await page.press('#rename-input', 'Enter');
  await page.locator(`#chat-list a[data-id="${id}"]`, { hasText: 'Danube notes' }).waitFor();
  assert.equal(await page.locator('#chat-title').innerText(), 'Danube notes');

  await page.click('#logout');
  await page.locator('#welcome').waitFor();
  await page.fill('input[name=email]', email);
  await page.fill('input[name=password]', 'a long enough password');
  await page.click('#login');
  const link = page.locator('#chat-list a', { hasText: 'Danube notes' });
  await link.waitFor();
  assert.equal(await page.locator('#chat-list a').first().innerText(), 'Danube notes', 'newest first');
  assert.equal(await page.locator('#chat-list a').count(), 20, 'one page');
  await page.click('#more-chats');
  await page.locator('#chat-list a', { hasText: 'Old chat 0' }).waitFor();
  assert.equal(await page.locator('#chat-list a').count(), 22);
  assert.equal(await page.locator('#more-chats').isVisible(), false);

  await link.click();
  await page.locator('.message.user', { hasText: 'Remember the Danube' }).waitFor();
  await page.click('#delete-chat');
  await page.click('#delete-chat');
  await page.locator(`#chat-list a[data-id="${id}"]`).waitFor({ state: 'detached' });
  assert.equal(new URL(page.url()).pathname, '/');
  await context.close();
  assert.deepEqual(problems, []);
});

test('the keyboard and a phone-width screen in the dark theme', async () => {
  const { page, problems, context } = await open(browser, server.url, {
    viewport: { width: 390, height: 780 },
    colorScheme: 'dark',
  });
  await asGuest(page);
  // The composer takes the focus once the chat list has loaded, a moment after the shell shows.
  await page.waitForFunction(() => document.activeElement?.id === 'input', null, { timeout: 5000 }).catch(() => {});
  assert.equal(await page.evaluate(() => document.activeElement.id), 'input', 'the composer has the focus');
  await page.fill('#input', 'line one');
  await page.press('#input', 'Shift+Enter');
  await page.keyboard.type('line two');
  assert.equal(await page.inputValue('#input'), 'line one\nline two', 'Shift+Enter starts a new line');
  await page.press('#input', 'Enter');
  await finished(page);
  assert.equal(await page.locator('.message.user .text').innerText(), 'line one\nline two');
  const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  assert.equal(background, 'rgb(23, 25, 29)', 'the dark theme follows the system');
  const hidden = await page.locator('#sidebar').boundingBox();
  assert.ok(hidden.x + hidden.width <= 0, 'the chat list is off screen');
  await screenshot(page, 'phone-dark');
  await page.click('#open-sidebar');
  await page.waitForFunction(() => document.getElementById('sidebar').getBoundingClientRect().x >= 0);
  await page.locator('#chat-list a').first().waitFor();
  await screenshot(page, 'phone-dark-chats');
  await context.close();
  assert.deepEqual(problems, []);
});

test('every page is served with a strict Content-Security-Policy and no inline script', async () => {
  for (const path of ['/', '/chat/00000000-0000-0000-0000-000000000000', '/assets/app.js', '/assets/app.css']) {
    const response = await fetch(`${server.url}${path}`);
    assert.equal(response.status, 200, path);
    const csp = response.headers.get('content-security-policy');
    assert.ok(csp, `${path} has a CSP`);
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
    assert.equal(response.headers.get('x-frame-options'), 'DENY');
  }
  const html = await (await fetch(`${server.url}/`)).text();
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'every script is a file');
  assert.doesNotMatch(html, /\son\w+=|\sstyle=/, 'no inline handlers or styles');
  const missing = await fetch(`${server.url}/assets/nothing.js`);
  assert.equal(missing.status, 404);
  assert.equal((await missing.json()).code, 'not_found:api');
});

test('errors say what happened: a model that cannot be reached, the daily limit, a file that is not an image', async () => {
  const failing = await startServer({
    OPENAI_API_KEY: 'sk-test',
    OPENAI_BASE_URL: 'http://127.0.0.1:9/v1',
    ALLEATO_AI__FIRST_BYTE_TIMEOUT_SECS: '1',
    ALLEATO_CHAT__GUEST_MESSAGES_PER_DAY: '1',
  });
  try {
    const { page, problems, context } = await open(browser, failing.url, { allowHttpErrors: true });
    await asGuest(page);
    await send(page, 'Is anyone there?');
    await page.locator('#banner').waitFor({ timeout: 30_000 });
    assert.match(await page.locator('#banner').innerText(), /model|answer could not be completed/i);
    await page.locator('#send').waitFor();
    await page.click('#banner-close');

    await send(page, 'And now?');
    await page.locator('#banner', { hasText: 'Daily message limit reached.' }).waitFor();
    assert.equal(await page.inputValue('#input'), 'And now?', 'the refused message is kept to send later');

    await page.setInputFiles('#file', { name: 'fake.png', mimeType: 'image/png', buffer: Buffer.from('not an image') });
    await page.locator('#banner', { hasText: 'Unsupported file.' }).waitFor();
    assert.equal(await page.locator('.attachments .chip').count(), 0);
    await screenshot(page, 'error');
    await context.close();
    assert.deepEqual(problems, []);
  } finally {
    await failing.stop();
  }
});

test('asked for a document, the answer shows the tool call and the document as it is written, and opens it later', async () => {
  const { page, problems, context } = await open(browser, server.url);
  await asGuest(page);
  await send(page, 'Write a document about rivers');
  const card = answer(page).locator('.tool[data-tool="createDocument"]');
  // While the tool works, the document streams into its card.
  await card.locator('.doc').waitFor({ timeout: 20_000 });
  await finished(page);
  assert.equal(await card.getAttribute('data-state'), 'output-available');
  assert.equal(await card.locator('.tool-title').innerText(), 'Rivers');
  assert.match(await answer(page).locator('.text').innerText(), /Rivers/, 'the final text after the tool');
  await card.getByRole('button', { name: 'Show document' }).click();
  await card.locator('.doc h3').waitFor();
  assert.equal(await card.locator('.doc h3').innerText(), 'Rivers');
  // The stored answer shows the same call after a reload.
  await page.reload();
  const reloaded = answer(page).locator('.tool[data-tool="createDocument"][data-state="output-available"]');
  await reloaded.waitFor();
  await screenshot(page, 'document');
  // A tool that fails says so in its card, and the answer still ends.
  await send(page, 'update 0190e0a0-0000-7000-8000-00000000abcd to exist');
  const failed = answer(page).locator('.tool[data-tool="updateDocument"][data-state="output-error"]');
  await failed.waitFor({ timeout: 20_000 });
  await page.locator('.message.assistant[data-state="done"]').nth(1).waitFor({ timeout: 20_000 });
  assert.match(await failed.locator('.error').innerText(), /not_found:document/);
  await context.close();
  assert.deepEqual(problems, []);
});
