// Attachments: uploaded as soon as they are picked (the server checks the type by content),
// shown as chips with a preview, and sent as `file` parts. File bytes need the session token,
// so previews are fetched and shown through blob: URLs.

import { api } from './api.js';

const $ = (id) => document.getElementById(id);
const ACCEPTED = ['image/jpeg', 'image/png', 'image/gif', 'image/webp', 'application/pdf'];
// Only the server's own file addresses are fetched with the token: a part's `url` comes from
// whoever wrote the message, perhaps the owner of a shared chat.
const OWN_FILE = /^\/api\/v1\/files\/[0-9a-fA-F-]{36}\/content$/;
const blobs = new Map();

export class Attachments {
  constructor(chatId, onError) {
    this.chatId = chatId;
    this.onError = onError;
    this.items = [];
  }

  add(files) {
    for (const file of files) {
      if (!ACCEPTED.includes(file.type)) {
        this.onError({ title: 'Unsupported file.', text: `${file.name}: attach a JPEG, PNG, GIF or WebP image, or a PDF.` });
        continue;
      }
      const item = { name: file.name, type: file.type, preview: URL.createObjectURL(file), view: null };
      item.upload = this.upload(file, item);
      this.items.push(item);
    }
    this.draw();
  }

  async upload(file, item) {
    const form = new FormData();
    form.append('file', file, file.name);
    const chatId = this.chatId();
    if (chatId) form.append('chatId', chatId);
    try {
      item.view = await api('POST', '/files/upload', { form });
    } catch (err) {
      this.items = this.items.filter((i) => i !== item);
      this.onError(err);
    }
    this.draw();
  }

  // Waits for the uploads in flight (a failed one has left the list, with its error shown).
  async ready() {
    await Promise.all(this.items.map((i) => i.upload));
  }

  parts() {
    return this.items
      .filter((i) => i.view)
      .map((i) => ({ type: 'file', mediaType: i.view.contentType, url: i.view.url, filename: i.view.name }));
  }

  // The files of a message being edited, already uploaded.
  restore(parts) {
    this.clear();
    for (const part of parts) {
      const view = { contentType: part.mediaType, url: part.url, name: part.filename || 'file' };
      this.items.push({ name: view.name, type: part.mediaType, preview: null, view, upload: Promise.resolve() });
    }
    this.draw();
  }

  clear() {
    for (const item of this.items) if (item.preview) URL.revokeObjectURL(item.preview);
    this.items = [];
    this.draw();
  }

  draw() {
    const box = $('attachments');
    box.replaceChildren(
      ...this.items.map((item) => {
        const chip = document.createElement('div');
        chip.className = 'chip';
        chip.dataset.state = item.view ? 'uploaded' : 'uploading';
        if (item.type.startsWith('image/')) {
          const img = document.createElement('img');
          img.alt = item.name;
          if (item.preview) img.src = item.preview;
          else blobUrl(item.view.url).then((url) => url && (img.src = url));
          chip.append(img);
        }
        const name = document.createElement('span');
        name.textContent = item.view ? item.name : `${item.name} (uploading…)`;
        const remove = document.createElement('button');
        remove.type = 'button';
        remove.className = 'icon';
        remove.textContent = '✕';
        remove.setAttribute('aria-label', `Remove ${item.name}`);
        remove.addEventListener('click', () => {
          this.items = this.items.filter((i) => i !== item);
          this.draw();
        });
        chip.append(name, remove);
        return chip;
      }),
    );
  }
}

// A file part in a message: an image preview, or a button that opens the file.
export function fileNode(part) {
  const box = document.createElement('div');
  box.className = 'file';
  const name = part.filename || part.mediaType;
  if (part.mediaType.startsWith('image/') && OWN_FILE.test(part.url)) {
    const img = document.createElement('img');
    img.alt = name;
    blobUrl(part.url).then((url) => {
      if (url) img.src = url;
      else img.replaceWith(document.createTextNode(`${name} (no longer available)`));
    });
    box.append(img);
    return box;
  }
  const open = document.createElement('button');
  open.type = 'button';
  open.className = 'link';
  const glyph = document.createElement('span');
  glyph.className = 'glyph doc';
  open.append(glyph, ` ${name}`);
  if (OWN_FILE.test(part.url)) {
    open.addEventListener('click', async () => {
      const url = await blobUrl(part.url);
      if (url) window.open(url, '_blank', 'noopener');
    });
  } else {
    open.disabled = true;
  }
  box.append(open);
  return box;
}

function blobUrl(url) {
  if (!blobs.has(url)) {
    const fetched = api('GET', url.replace(/^\/api\/v1/, ''), { raw: true })
      .then((response) => response.blob())
      .then((blob) => URL.createObjectURL(blob))
      .catch(() => {
        blobs.delete(url);
        return null;
      });
    blobs.set(url, fetched);
  }
  return blobs.get(url);
}
