// A small Markdown renderer that cannot inject anything: it builds DOM nodes and sets only
// textContent and vetted attributes, never HTML. Model output and other users' shared chats are
// untrusted: `<img onerror=...>` shows as text, and a link whose address is not http(s) or
// mailto stays plain text.
//
// Blocks: paragraphs, headings (#), fenced code (```), block quotes (>), lists (-, *, +, 1.).
// Inline: `code`, **bold**, *italic* / _italic_, [text](address), bare http(s) addresses.

const SAFE_PROTOCOLS = new Set(['http:', 'https:', 'mailto:']);

export function render(text) {
  const fragment = document.createDocumentFragment();
  const lines = String(text).replace(/\r\n?/g, '\n').split('\n');
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    const fence = line.match(/^\s*(```|~~~)\s*([\w+-]*)\s*$/);
    if (fence) {
      const body = [];
      i += 1;
      while (i < lines.length && !lines[i].trim().startsWith(fence[1])) body.push(lines[i++]);
      i += 1;
      const pre = el('pre');
      const code = el('code', body.join('\n'));
      if (fence[2]) code.dataset.language = fence[2];
      pre.append(code);
      fragment.append(pre);
      continue;
    }
    const heading = line.match(/^(#{1,6})\s+(.*)$/);
    if (heading) {
      fragment.append(inline(el(`h${Math.min(heading[1].length + 2, 6)}`), heading[2]));
      i += 1;
      continue;
    }
    if (/^\s*>/.test(line)) {
      const body = [];
      while (i < lines.length && /^\s*>/.test(lines[i])) body.push(lines[i++].replace(/^\s*>\s?/, ''));
      const quote = el('blockquote');
      quote.append(render(body.join('\n')));
      fragment.append(quote);
      continue;
    }
    const item = listItem(line);
    if (item) {
      const list = el(item.ordered ? 'ol' : 'ul');
      while (i < lines.length) {
        const next = listItem(lines[i]);
        if (!next || next.ordered !== item.ordered) break;
        list.append(inline(el('li'), next.text));
        i += 1;
      }
      fragment.append(list);
      continue;
    }
    if (line.trim() === '') {
      i += 1;
      continue;
    }
    const body = [];
    while (i < lines.length && lines[i].trim() !== '' && !startsBlock(lines[i])) body.push(lines[i++]);
    const p = el('p');
    body.forEach((text, n) => {
      if (n > 0) p.append(el('br'));
      inline(p, text);
    });
    fragment.append(p);
  }
  return fragment;
}

function startsBlock(line) {
  return /^\s*(```|~~~)/.test(line) || /^#{1,6}\s/.test(line) || /^\s*>/.test(line) || listItem(line) !== null;
}

function listItem(line) {
  const bullet = line.match(/^\s*[-*+]\s+(.*)$/);
  if (bullet) return { ordered: false, text: bullet[1] };
  const number = line.match(/^\s*\d{1,9}[.)]\s+(.*)$/);
  if (number) return { ordered: true, text: number[1] };
  return null;
}

// The inline tokens, leftmost first: code spans, links, bold, italic, bare addresses.
const INLINE = /`([^`]+)`|\[([^\]]+)\]\(\s*([^()\s]*(?:\([^()\s]*\)[^()\s]*)*)\s*\)|\*\*([^*]+)\*\*|__([^_]+)__|\*([^*\s][^*]*)\*|(?<![\w])_([^_\s][^_]*)_(?![\w])|(https?:\/\/[^\s<>()]+[^\s<>().,;:!?'"])/g;

function inline(parent, text) {
  let last = 0;
  for (const m of text.matchAll(INLINE)) {
    if (m.index > last) parent.append(text.slice(last, m.index));
    last = m.index + m[0].length;
    if (m[1] !== undefined) parent.append(el('code', m[1]));
    else if (m[2] !== undefined) parent.append(link(m[2], m[3], m[0]));
    else if (m[4] !== undefined || m[5] !== undefined) parent.append(inline(el('strong'), m[4] ?? m[5]));
    else if (m[6] !== undefined || m[7] !== undefined) parent.append(inline(el('em'), m[6] ?? m[7]));
    else parent.append(link(m[8], m[8], m[8]));
  }
  if (last < text.length) parent.append(text.slice(last));
  return parent;
}

// An anchor for a safe address; the original text, inert, for anything else.
function link(label, address, original) {
  const url = safeUrl(address);
  if (!url) return document.createTextNode(original);
  const a = el('a');
  a.href = url;
  a.rel = 'noopener noreferrer nofollow';
  a.target = '_blank';
  inline(a, label);
  return a;
}

export function safeUrl(address) {
  try {
    const url = new URL(address, window.location.origin);
    return SAFE_PROTOCOLS.has(url.protocol) ? url.href : null;
  } catch {
    return null;
  }
}

function el(tag, text) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  return node;
}
