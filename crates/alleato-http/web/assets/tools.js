// How the app shows the tools an answer called: a card per call naming what the model did
// (wrote, updated or reviewed a document) and how it went; while the answer streams, the
// document as it is written (from the stream's transient data parts), and afterwards a button
// that loads it from the API.

import { api } from './api.js';
import { render as markdown } from './markdown.js';

const LABELS = {
  createDocument: 'Document',
  updateDocument: 'Document update',
  requestSuggestions: 'Suggestions',
};

function node(tag, className = '', text) {
  const element = document.createElement(tag);
  if (className) element.className = className;
  if (text !== undefined) element.textContent = text;
  return element;
}

function stateText(part) {
  switch (part.state) {
    case 'input-streaming':
      return 'Preparing…';
    case 'input-available':
      return 'Working…';
    case 'output-available':
      return 'Done';
    default:
      return 'Failed';
  }
}

// A document's content: Markdown for text, as it is for code and sheets.
function contentNode(kind, content) {
  const box = node('div', 'doc');
  if (kind === 'code' || kind === 'sheet') {
    const pre = node('pre');
    pre.append(node('code', '', content));
    box.append(pre);
  } else {
    box.append(markdown(content));
  }
  return box;
}

function suggestionsNode(suggestions) {
  const list = node('ul', 'suggestions');
  for (const s of suggestions) {
    const item = node('li');
    item.append(node('del', '', String(s.originalText ?? '')), node('span', '', ' → '), node('ins', '', String(s.suggestedText ?? '')));
    list.append(item);
  }
  return list;
}

// Loads the newest version of a document into `slot`.
async function showDocument(id, slot) {
  slot.disabled = true;
  try {
    const { versions } = await api('GET', `/documents/${encodeURIComponent(id)}`);
    const latest = versions[versions.length - 1];
    slot.replaceWith(contentNode(latest.kind, latest.content || ''));
  } catch (err) {
    slot.replaceWith(node('p', 'error', err.message));
  }
}

export function isToolPart(part) {
  return typeof part.type === 'string' && (part.type.startsWith('tool-') || part.type === 'dynamic-tool');
}

// The card of one tool call of `message`; `live` while the answer streams.
export function toolNode(part, message, live) {
  const name = part.type === 'dynamic-tool' ? String(part.toolName) : part.type.slice('tool-'.length);
  const card = node('div', 'tool');
  card.dataset.tool = name;
  card.dataset.state = part.state || '';
  const doc = message.document;
  const documentId = part.output?.id || part.input?.id || part.input?.documentId;
  const title = part.output?.title || part.input?.title || (live && doc?.title) || '';
  const head = node('div', 'tool-head');
  head.append(node('strong', '', LABELS[name] || `Tool ${name}`));
  if (title) head.append(node('span', 'tool-title', String(title)));
  head.append(node('span', 'tool-state', stateText(part)));
  card.append(head);
  if (part.state === 'output-error') {
    card.append(node('p', 'error', String(part.errorText || 'The tool failed.')));
    return card;
  }
  const writes = name === 'createDocument' || name === 'updateDocument';
  if (live && doc && writes && part.state !== 'output-available' && (!documentId || doc.id === documentId)) {
    card.append(contentNode(doc.kind, doc.content));
  } else if (live && doc && name === 'requestSuggestions' && doc.suggestions.length) {
    card.append(suggestionsNode(doc.suggestions));
  } else if (writes && documentId && part.state === 'output-available') {
    const button = node('button', 'link', 'Show document');
    button.type = 'button';
    button.addEventListener('click', () => showDocument(documentId, button));
    card.append(button);
  }
  return card;
}
