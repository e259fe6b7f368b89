// A closed-loop chat client measured from outside the server, as a browser-side load test
// would: Node's own `fetch`, `WORKERS` workers, each sending a message to a new chat and
// reading the whole SSE answer to `[DONE]` before the next. Prints one JSON line.
//
//   node tests/load/roundtrips.mjs BASE_URL [--workers 32] [--seconds 10] [--warmup 2]
//
// Also `setup`: registers a user with 50 chats and prints `{"token": …}` (for oha's listing).
const [, , base, ...rest] = process.argv;
if (!base) {
  console.error('usage: roundtrips.mjs BASE_URL [setup] [--workers N] [--seconds S] [--warmup S]');
  process.exit(2);
}
const option = (name, fallback) => {
  const at = rest.indexOf(`--${name}`);
  return at >= 0 ? Number(rest[at + 1]) : fallback;
};

async function call(path, { token, body, method = 'POST' } = {}) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(base + path, { method, headers, body: body && JSON.stringify(body) });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res;
}

async function register() {
  const email = `load-${crypto.randomUUID()}@example.com`;
  const res = await call('/api/v1/auth/register', { body: { email, password: 'correct horse battery' } });
  return (await res.json()).token;
}

/// One round trip: a new chat, one message, the whole answer. Returns its duration in ms.
async function roundTrip(token) {
  const started = performance.now();
  const body = { message: { role: 'user', parts: [{ type: 'text', text: 'Hello from outside' }] } };
  const res = await call(`/api/v1/chats/${crypto.randomUUID()}/messages`, { token, body });
  const text = await res.text();
  if (!text.includes('data: [DONE]')) throw new Error('the answer ended before [DONE]');
  return performance.now() - started;
}

if (rest[0] === 'setup') {
  const token = await register();
  for (let i = 0; i < 50; i++) {
    await call('/api/v1/chats', { token, body: { id: crypto.randomUUID(), title: `Chat ${i}` } });
  }
  console.log(JSON.stringify({ token }));
  process.exit(0);
}

const workers = option('workers', 32);
const seconds = option('seconds', 10);
const warmup = option('warmup', 2);
const tokens = await Promise.all(Array.from({ length: workers }, register));

async function run(forMs, record) {
  const until = performance.now() + forMs;
  await Promise.all(
    tokens.map(async (token) => {
      while (performance.now() < until) {
        try {
          record.push(await roundTrip(token));
        } catch (err) {
          record.errors = (record.errors ?? 0) + 1;
          if (record.errors <= 3) console.error(String(err));
        }
      }
    }),
  );
}

await run(warmup * 1000, []);
const times = [];
const started = performance.now();
await run(seconds * 1000, times);
const elapsed = (performance.now() - started) / 1000;
times.sort((a, b) => a - b);
const at = (q) => times[Math.min(times.length - 1, Math.floor(q * times.length))] ?? 0;
console.log(
  JSON.stringify({
    workers,
    seconds: Number(elapsed.toFixed(2)),
    round_trips: times.length,
    per_second: Number((times.length / elapsed).toFixed(1)),
    p50_ms: Number(at(0.5).toFixed(1)),
    p99_ms: Number(at(0.99).toFixed(1)),
    errors: times.errors ?? 0,
  }),
);
