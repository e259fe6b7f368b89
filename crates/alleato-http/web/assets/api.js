// The one way the app talks to the server: the public /api/v1, with the session token as a
// bearer token. Every failure becomes an ApiError carrying the server's stable error code.

const TOKEN_KEY = 'alleato.token';

export class ApiError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

export const session = {
  get token() {
    return localStorage.getItem(TOKEN_KEY);
  },
  save(token) {
    localStorage.setItem(TOKEN_KEY, token);
  },
  clear() {
    localStorage.removeItem(TOKEN_KEY);
  },
};

// Sends a request; resolves to the parsed JSON body, to the Response itself when `raw` is set
// (streams, file bytes), or to null for 204. Rejects with ApiError.
export async function api(method, path, { json, form, raw = false, headers = {}, signal } = {}) {
  const init = { method, headers: { ...headers }, signal };
  if (session.token) init.headers.Authorization = `Bearer ${session.token}`;
  if (json !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(json);
  } else if (form) {
    init.body = form;
  }
  let response;
  try {
    response = await fetch(`/api/v1${path}`, init);
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new ApiError(0, 'network', 'The server cannot be reached. Check your connection and try again.');
  }
  if (!response.ok) throw await errorOf(response);
  if (raw) return response;
  if (response.status === 204) return null;
  return response.json();
}

async function errorOf(response) {
  let code = `http_${response.status}`;
  let message = `The server answered ${response.status}.`;
  try {
    const body = await response.json();
    if (typeof body.code === 'string') code = body.code;
    if (typeof body.message === 'string') message = body.message;
  } catch {
    // Not JSON (a proxy's page, say): the status says enough.
  }
  const retry = Number(response.headers.get('retry-after'));
  return new ApiError(response.status, code, message, Number.isFinite(retry) && retry > 0 ? retry : undefined);
}

// A heading in plain words for each kind of error; the server's own message goes under it.
export function describe(err) {
  if (!(err instanceof ApiError)) return { title: 'Something went wrong.', text: String(err && err.message) };
  const [kind, surface] = err.code.split(':');
  const titles = {
    network: 'Offline.',
    bad_request: 'That was not accepted.',
    unauthorized: 'Your session has ended.',
    forbidden: 'Read-only.',
    not_found: 'Not found.',
    conflict: 'Busy.',
    payload_too_large: 'Too large.',
    unsupported_media_type: 'Unsupported file.',
    upstream: 'The model is unavailable.',
    unavailable: surface === 'model' ? 'The model is unavailable.' : 'The service is busy.',
    internal: 'Something went wrong.',
  };
  let title = titles[kind] || 'Something went wrong.';
  if (kind === 'rate_limit') title = surface === 'chat' ? 'Daily message limit reached.' : 'Too many requests.';
  return { title, text: err.message };
}
