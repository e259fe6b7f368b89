// The AI SDK's own client reads the server's stream: `DefaultChatTransport` (which checks every
// chunk against the SDK's chunk schema) sends a message, and `readUIMessageStream` folds the
// chunks into the UIMessage an app renders: tool parts with their states, steps, text. No
// browser: the SDK as a Node.js app (a server-side client, a test harness) uses it.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';

import { DefaultChatTransport, readUIMessageStream } from 'ai';

import { startServer } from './harness.mjs';

let server;

before(async () => {
  server = await startServer({ AI_MOCK_CHUNK_DELAY_MS: '1' });
});

after(async () => {
  await server?.stop();
});

async function guestToken() {
  const response = await fetch(`${server.url}/api/v1/auth/guest`, { method: 'POST' });
  assert.equal(response.status, 201);
  return (await response.json()).token;
}

// Sends one message the way an AI SDK app does, and returns every snapshot of the answer
// `readUIMessageStream` yields, and the raw chunks.
async function ask(token, chatId, text) {
  const transport = new DefaultChatTransport({
    api: `${server.url}/api/v1/chats/${chatId}/messages`,
    headers: { authorization: `Bearer ${token}` },
    // Our API takes the new message alone (the history is on the server).
    prepareSendMessagesRequest: ({ messages, api, headers }) => ({ api, headers, body: { message: messages.at(-1) } }),
  });
  const stream = await transport.sendMessages({
    chatId,
    messages: [{ id: randomUUID(), role: 'user', parts: [{ type: 'text', text }] }],
    trigger: 'submit-message',
    messageId: undefined,
    abortSignal: undefined,
  });
  const [forMessage, forChunks] = stream.tee();
  const chunks = [];
  const collecting = (async () => {
    for await (const chunk of forChunks) chunks.push(chunk);
  })();
  const snapshots = [];
  for await (const message of readUIMessageStream({ stream: forMessage, terminateOnError: true })) {
    snapshots.push(structuredClone(message));
  }
  await collecting;
  return { snapshots, chunks, message: snapshots.at(-1) };
}

test('readUIMessageStream yields the createDocument tool part through its states, then the text', async () => {
  const token = await guestToken();
  const { snapshots, chunks, message } = await ask(token, randomUUID(), 'Write a document about rivers');

  const tool = message.parts.find((p) => p.type === 'tool-createDocument');
  assert.ok(tool, JSON.stringify(message.parts));
  assert.equal(tool.state, 'output-available');
  assert.deepEqual(tool.input, { title: 'Rivers', kind: 'text' });
  assert.equal(tool.output.title, 'Rivers');
  assert.match(tool.output.id, /^[0-9a-f-]{36}$/);
  // The states a UI shows on the way, in order.
  const states = [];
  for (const snapshot of snapshots) {
    const part = snapshot.parts.find((p) => p.type === 'tool-createDocument');
    if (part && states.at(-1) !== part.state) states.push(part.state);
  }
  assert.deepEqual(states, ['input-streaming', 'input-available', 'output-available']);
  // Two steps, and a final text after the tool.
  assert.equal(message.parts.filter((p) => p.type === 'step-start').length, 2);
  const last = message.parts.filter((p) => p.type !== 'data-chat-title').at(-1);
  const text = last;
  assert.equal(text.type, 'text');
  assert.equal(text.state, 'done');
  assert.match(text.text, /Rivers/);
  // The document's parts came through the transport (each checked by the SDK's schema), and,
  // being transient, are not in the message.
  const data = chunks.filter((c) => c.type.startsWith('data-')).map((c) => c.type);
  for (const type of ['data-kind', 'data-id', 'data-title', 'data-clear', 'data-textDelta', 'data-finish']) {
    assert.ok(data.includes(type), `${type} in ${data}`);
  }
  // (The chat's new title is a data part that is kept.)
  assert.deepEqual(message.parts.filter((p) => p.type.startsWith('data-')).map((p) => p.type), ['data-chat-title']);

  // The document the tool made is the caller's.
  const stored = await fetch(`${server.url}/api/v1/documents`, { headers: { authorization: `Bearer ${token}` } });
  const { documents } = await stored.json();
  assert.equal(documents[0].id, tool.output.id);
  assert.equal(documents[0].content.length > 0, true);
});

test('a tool that fails ends in output-error with its text, and the answer still finishes', async () => {
  const token = await guestToken();
  const { message } = await ask(token, randomUUID(), 'update 0190e0a0-0000-7000-8000-00000000abcd to exist');
  const tool = message.parts.find((p) => p.type === 'tool-updateDocument');
  assert.equal(tool.state, 'output-error');
  assert.match(tool.errorText, /^not_found:document/);
  assert.equal(message.parts.filter((p) => p.type !== 'data-chat-title').at(-1).type, 'text');
});
