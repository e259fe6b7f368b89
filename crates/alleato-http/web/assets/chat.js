// One chat on screen: its messages, the composer, and the answer streaming in. Every write goes
// through the API; after anything unexpected the server's copy is read again, as the truth.

import { api } from './api.js';
import { render as markdown } from './markdown.js';
import { apply, emptyAssistant, events } from './stream.js';
import { fileNode, Attachments } from './files.js';
import { isToolPart, toolNode } from './tools.js';

const $ = (id) => document.getElementById(id);
const STREAM = { Accept: 'text/event-stream' };
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export class ChatView {
  // hooks: me() (the signed-in user), listChanged(), error(err), navigate(path, {replace}).
  constructor(hooks) {
    this.hooks = hooks;
    this.attachments = new Attachments(() => this.chat?.id, hooks.error);
    this.reset(null);
    this.wire();
  }

  reset(id) {
    this.streaming?.controller.abort();
    this.streaming = null;
    this.id = id ?? crypto.randomUUID();
    this.chat = null;
    this.messages = [];
    this.votes = new Map();
    this.readOnly = false;
    this.editing = null;
  }

  // A blank chat: it exists on the server once its first message is sent.
  blank() {
    this.reset(null);
    this.attachments.clear();
    this.draw();
    $('input').focus();
  }

  async open(id) {
    this.reset(id);
    this.attachments.clear();
    this.draw();
    try {
      const { chat, messages } = await api('GET', `/chats/${encodeURIComponent(id)}`);
      if (this.id !== id) return;
      this.chat = chat;
      this.messages = messages;
      this.readOnly = chat.userId !== this.hooks.me().id;
      if (!this.readOnly) await this.loadVotes();
      this.draw();
      $('input').focus();
      await this.resume();
    } catch (err) {
      if (this.id !== id) return;
      this.hooks.error(err);
      this.draw();
    }
  }

  async loadVotes() {
    const { votes } = await api('GET', `/chats/${this.id}/votes`);
    this.votes = new Map(votes.map((v) => [v.messageId, v.isUpvoted ? 'up' : 'down']));
  }

  // Picks up a generation still running (a reload mid-answer, another tab's message).
  async resume() {
    const controller = new AbortController();
    const response = await api('GET', `/chats/${this.id}/stream`, { raw: true, headers: STREAM, signal: controller.signal });
    if (response.status === 204) return;
    await this.consume(response, controller);
  }

  wire() {
    $('composer').addEventListener('submit', (event) => {
      event.preventDefault();
      this.submit();
    });
    $('input').addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.submit();
      } else if (event.key === 'Escape' && this.streaming) {
        this.stop();
      }
    });
    $('input').addEventListener('input', () => grow($('input')));
    $('stop').addEventListener('click', () => this.stop());
    $('cancel-edit').addEventListener('click', () => this.cancelEdit());
    $('file').addEventListener('change', (event) => {
      this.attachments.add([...event.target.files]);
      event.target.value = '';
    });
  }

  async submit() {
    if (this.readOnly || this.streaming) return;
    const text = $('input').value.trim();
    await this.attachments.ready();
    const files = this.attachments.parts();
    if (!text && !files.length) return;
    const parts = [...files, ...(text ? [{ type: 'text', text }] : [])];
    const id = this.editing ?? crypto.randomUUID();
    this.truncateFrom(this.editing);
    this.editing = null;
    const message = { id, role: 'user', parts };
    $('input').value = '';
    grow($('input'));
    if (await this.generate(message)) this.attachments.clear();
    else $('input').value = text;
  }

  // Asks again for the last answer: the last user message is sent again under its own id,
  // which replaces it and everything after it on the server.
  regenerate() {
    const last = this.lastUser();
    if (!last || this.streaming) return;
    this.truncateFrom(last.id);
    this.generate(last);
  }

  edit() {
    const last = this.lastUser();
    if (!last || this.streaming) return;
    this.editing = last.id;
    $('input').value = last.parts.filter((p) => p.type === 'text').map((p) => p.text).join('\n');
    this.attachments.restore(last.parts.filter((p) => p.type === 'file'));
    this.draw();
    grow($('input'));
    $('input').focus();
  }

  cancelEdit() {
    this.editing = null;
    $('input').value = '';
    this.attachments.clear();
    this.draw();
  }

  async stop() {
    if (!this.streaming) return;
    this.streaming.stopping = true;
    try {
      await api('POST', `/chats/${this.id}/stop`);
    } catch (err) {
      this.hooks.error(err);
    }
  }

  // Sends the user message and follows the answer; false when the server refused it.
  async generate(message) {
    const controller = new AbortController();
    this.messages.push(message);
    this.streaming = { controller, message: null, stopping: false, cursor: null };
    this.draw();
    let response;
    try {
      response = await api('POST', `/chats/${this.id}/messages`, {
        json: { message, selectedChatModel: $('model').value },
        raw: true,
        headers: STREAM,
        signal: controller.signal,
      });
    } catch (err) {
      this.streaming = null;
      this.messages = this.messages.filter((m) => m !== message);
      if (err.name !== 'AbortError') this.hooks.error(err);
      this.draw();
      return false;
    }
    if (!this.chat) {
      this.chat = { id: this.id, userId: this.hooks.me().id, title: 'New chat', visibility: 'private' };
      this.hooks.navigate(`/chat/${this.id}`, { replace: false, silent: true });
    }
    this.hooks.listChanged();
    await this.consume(response, controller);
    return true;
  }

  // Reads the answer's stream to its end, reconnecting from the last event after a drop.
  async consume(first, controller) {
    const assistant = emptyAssistant();
    this.streaming = { ...(this.streaming ?? { stopping: false }), controller, message: assistant, cursor: null };
    this.messages.push(assistant);
    this.draw();
    let response = first;
    for (let attempt = 1; response; attempt += 1) {
      try {
        for await (const event of events(response)) {
          if (event.id !== null) this.streaming.cursor = event.id;
          let chunk;
          try {
            chunk = JSON.parse(event.data);
          } catch {
            continue;
          }
          if (chunk.type === 'start' && chunk.messageId) {
            // A replay of an answer already on screen (stored, or shown by an earlier follow).
            this.messages = this.messages.filter((m) => m === assistant || m.id !== chunk.messageId);
          }
          if (apply(assistant, chunk)) this.redraw(assistant);
        }
        break;
      } catch (err) {
        if (controller.signal.aborted) return;
        if (attempt > 3) {
          assistant.state = 'error';
          assistant.error = 'The connection to the server was lost.';
          break;
        }
        await sleep(500 * attempt);
        const cursor = this.streaming?.cursor;
        response = await api('GET', `/chats/${this.id}/stream${cursor ? `?cursor=${cursor}` : ''}`, {
          raw: true,
          headers: STREAM,
          signal: controller.signal,
        }).catch(() => null);
        if (response?.status === 204) response = null;
      }
    }
    if (controller.signal.aborted) return;
    if (assistant.state === 'streaming') assistant.state = this.streaming?.stopping ? 'stopped' : 'done';
    if (this.streaming?.stopping && assistant.state === 'done') assistant.state = 'stopped';
    if (assistant.error) this.hooks.error({ streamError: assistant.error });
    this.streaming = null;
    if (!assistant.id) this.messages = this.messages.filter((m) => m !== assistant || m.parts.length);
    this.draw();
    this.hooks.listChanged();
    $('input').focus();
  }

  async vote(messageId, kind) {
    try {
      await api('PUT', `/chats/${this.id}/messages/${messageId}/vote`, { json: { type: kind } });
      this.votes.set(messageId, kind);
      this.draw();
    } catch (err) {
      this.hooks.error(err);
    }
  }

  lastUser() {
    return [...this.messages].reverse().find((m) => m.role === 'user');
  }

  truncateFrom(id) {
    if (!id) return;
    const at = this.messages.findIndex((m) => m.id === id);
    if (at >= 0) this.messages = this.messages.slice(0, at);
  }

  draw() {
    const box = $('messages');
    const stick = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
    box.replaceChildren(...this.messages.map((m) => this.messageNode(m)));
    if (!this.messages.length) box.append(empty(this.readOnly));
    if (stick || this.streaming) box.scrollTop = box.scrollHeight;
    const busy = Boolean(this.streaming);
    $('send').hidden = busy;
    $('stop').hidden = !busy;
    $('composer').hidden = this.readOnly;
    $('readonly').hidden = !this.readOnly;
    $('editing').hidden = !this.editing;
    this.hooks.chatShown(this);
  }

  // Only the answer streaming in is drawn again for each chunk, once per frame.
  redraw(message) {
    if (this.pending) return;
    this.pending = requestAnimationFrame(() => {
      this.pending = null;
      const node = document.querySelector('[data-streaming="true"]');
      if (!node) return this.draw();
      const box = $('messages');
      const stick = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
      node.replaceWith(this.messageNode(message));
      if (stick) box.scrollTop = box.scrollHeight;
    });
  }

  messageNode(message) {
    const node = el('article', `message ${message.role}`);
    if (message.id) node.dataset.id = message.id;
    const live = this.streaming?.message === message;
    node.dataset.state = live ? 'streaming' : message.state || 'done';
    if (live) node.dataset.streaming = 'true';
    const bubble = el('div', 'bubble');
    for (const part of message.parts) {
      if (part.type === 'text') {
        const body = el('div', 'text');
        if (message.role === 'assistant') body.append(markdown(part.text));
        else body.textContent = part.text;
        bubble.append(body);
      } else if (part.type === 'reasoning' && part.text) {
        const details = el('details', 'reasoning');
        details.append(el('summary', '', 'Reasoning'), el('p', '', part.text));
        bubble.append(details);
      } else if (part.type === 'file') {
        bubble.append(fileNode(part));
      } else if (isToolPart(part)) {
        bubble.append(toolNode(part, message, live));
      }
    }
    if (live && !message.parts.some((p) => p.text || isToolPart(p))) bubble.append(el('span', 'typing', 'Thinking…'));
    if (message.state === 'stopped') bubble.append(el('p', 'muted', 'Stopped.'));
    if (message.error) bubble.append(el('p', 'error', message.error));
    node.append(bubble);
    if (!live && !this.readOnly && this.chat) node.append(this.actions(message));
    return node;
  }

  actions(message) {
    const bar = el('div', 'message-actions');
    const last = this.messages[this.messages.length - 1];
    if (message.role === 'assistant' && message.id) {
      for (const [kind, label] of [['up', 'Vote up'], ['down', 'Vote down']]) {
        const button = el('button', 'icon');
        button.append(el('span', `glyph ${kind}`));
        button.type = 'button';
        button.setAttribute('aria-label', label);
        button.setAttribute('aria-pressed', String(this.votes.get(message.id) === kind));
        button.addEventListener('click', () => this.vote(message.id, kind));
        bar.append(button);
      }
    }
    if (!this.streaming && message === last && message.role === 'assistant') {
      bar.append(button('Regenerate', () => this.regenerate()));
    }
    if (!this.streaming && message === this.lastUser()) bar.append(button('Edit', () => this.edit()));
    return bar;
  }
}

function button(label, onClick) {
  const b = el('button', 'link', label);
  b.type = 'button';
  b.addEventListener('click', onClick);
  return b;
}

function empty(readOnly) {
  return el('p', 'empty', readOnly ? 'This chat has no messages.' : 'Ask anything. Attach an image or a PDF with the paper clip.');
}

function grow(textarea) {
  textarea.style.height = 'auto';
  textarea.style.height = `${Math.min(textarea.scrollHeight, 200)}px`;
}

export function el(tag, className = '', text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}
