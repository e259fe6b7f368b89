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
    default:
      return false;
  }
}
