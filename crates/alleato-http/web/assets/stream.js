// Reading the AI SDK UI message stream (server-sent events over a fetch response, since
// EventSource cannot send a bearer token) and folding its chunks into a UIMessage.

// Yields {id, data} for each event of a text/event-stream body, as the SSE spec reads it.
export async function* events(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let id = null;
  let data = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    const lines = buffer.split(/\r\n|\r|\n/);
    buffer = lines.pop();
    for (const line of lines) {
      if (line === '') {
        if (data.length) yield { id, data: data.join('\n') };
        data = [];
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let text = colon < 0 ? '' : line.slice(colon + 1);
      if (text.startsWith(' ')) text = text.slice(1);
      if (field === 'data') data.push(text);
      else if (field === 'id') id = text;
    }
  }
}

// A new assistant message, filled in by `apply`.
export function emptyAssistant() {
  return { id: null, role: 'assistant', parts: [], state: 'streaming', error: null };
}

// Folds one chunk into the message; returns false for chunks the message does not show.
export function apply(message, chunk) {
  const open = (type, id) => {
    const part = { type, text: '', streamId: id };
    message.parts.push(part);
    return part;
  };
  const find = (type, id) =>
    [...message.parts].reverse().find((p) => p.type === type && p.streamId === id) || open(type, id);
  switch (chunk.type) {
    case 'start':
      if (chunk.messageId) message.id = chunk.messageId;
      return true;
    case 'text-start':
      open('text', chunk.id);
      return true;
    case 'text-delta':
      find('text', chunk.id).text += chunk.delta || '';
      return true;
    case 'reasoning-start':
      open('reasoning', chunk.id);
      return true;
    case 'reasoning-delta':
      find('reasoning', chunk.id).text += chunk.delta || '';
      return true;
    case 'finish':
      message.state = 'done';
      return true;
    case 'abort':
      message.state = 'stopped';
      return true;
    case 'error':
      message.state = 'error';
      message.error = chunk.errorText || 'The answer could not be completed.';
      return true;
    case 'tool-input-start':
      toolPart(message, chunk).state = 'input-streaming';
      return true;
    case 'tool-input-available':
    case 'tool-input-error': {
      const part = toolPart(message, chunk);
      part.input = chunk.input;
      part.state = chunk.type === 'tool-input-error' ? 'output-error' : 'input-available';
      if (chunk.errorText) part.errorText = chunk.errorText;
      return true;
    }
    case 'tool-output-available':
    case 'tool-output-error': {
      const part = message.parts.find((p) => p.toolCallId === chunk.toolCallId);
      if (!part) return false;
      part.state = chunk.type === 'tool-output-error' ? 'output-error' : 'output-available';
      if (chunk.type === 'tool-output-error') part.errorText = chunk.errorText;
      else part.output = chunk.output;
      return true;
    }
    default:
      return typeof chunk.type === 'string' && chunk.type.startsWith('data-') && applyData(message, chunk);
  }
}

// The part of a tool call, added on its first chunk.
function toolPart(message, chunk) {
  let part = message.parts.find((p) => p.toolCallId === chunk.toolCallId);
  if (!part) {
    part = { type: `tool-${chunk.toolName}`, toolCallId: chunk.toolCallId, state: 'input-streaming' };
    message.parts.push(part);
  }
  return part;
}

// The document a tool is writing, as its data parts come (transient: only a live answer has it).
function applyData(message, chunk) {
  const name = chunk.type.slice('data-'.length);
  const doc = message.document || (message.document = { content: '', suggestions: [] });
  switch (name) {
    case 'kind':
    case 'id':
    case 'title':
      doc[name] = chunk.data;
      return true;
    case 'clear':
      doc.content = '';
      doc.done = false;
      return true;
    case 'textDelta':
      doc.content += typeof chunk.data === 'string' ? chunk.data : '';
      return true;
    case 'codeDelta':
    case 'sheetDelta':
      doc.content = typeof chunk.data === 'string' ? chunk.data : doc.content;
      return true;
    case 'finish':
      doc.done = true;
      return true;
    case 'suggestion':
      if (chunk.data && typeof chunk.data === 'object') doc.suggestions.push(chunk.data);
      return true;
    default:
      return false;
  }
}
