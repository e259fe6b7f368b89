// Cloudflare's D1 and Workers KV REST APIs, served by a Worker over real D1 and KV bindings, so
// that Alleato's adapters are tested against Cloudflare's own implementations (workerd, under
// Miniflare). The same Worker, deployed with its bindings and a secret, is the proxy that takes a
// server's traffic off the account-wide API rate limit. Paths and JSON envelopes follow the API
// reference (developers.cloudflare.com/api): D1 "Query D1 Database", "Raw D1 Database query",
// "Create D1 Database"; Workers KV "Read key-value pair", "Write key-value pair with optional
// metadata", "Delete key-value pair", "Read the metadata for a key", "List a Namespace's Keys",
// "Write multiple key-value pairs", "Delete multiple key-value pairs", "Get multiple key-value
// pairs". See shared/reference/cloudflare-and-test-services.md §1, §2, §4.
//
// Databases: as on Cloudflare, each database id is a database of its own: the first request
// naming an id takes the next unused binding of a pool `DB_0`, `DB_1`, ... (`DB_POOL` of them;
// the simulator's launcher makes the pool), so every test server gets a fresh database by
// picking a fresh id. Past the pool, and in a deployed proxy (which has no pool), every id is the
// one binding `DB`.

const json = (status, body) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

const envelope = (result, errors = [], extra = {}) => ({
  success: errors.length === 0,
  errors,
  messages: [],
  result,
  ...extra,
});

const failure = (status, code, message) => json(status, envelope(null, [{ code, message }]));

async function body(request) {
  try {
    return [await request.json(), null];
  } catch {
    return [null, failure(400, 7400, "The request is not valid JSON")];
  }
}

// --- D1 ----------------------------------------------------------------------------------------

const pool = (env) => Number(env.DB_POOL ?? 0);
const handedOut = new Map(); // database id -> binding name, for this run of the simulator

function database(env, id) {
  if (!handedOut.has(id) && handedOut.size < pool(env)) handedOut.set(id, `DB_${handedOut.size}`);
  return env[handedOut.get(id)] ?? env.DB;
}

async function createDatabase(request, env) {
  const [input, error] = await body(request);
  if (error) return error;
  if (typeof input?.name !== "string" || input.name.length === 0) {
    return failure(400, 7400, "A database needs a name");
  }
  const uuid = crypto.randomUUID();
  database(env, uuid);
  return json(200, envelope({ uuid, name: input.name, created_at: new Date().toISOString(), version: "production" }));
}

async function d1(request, db, shape) {
  const [input, error] = await body(request);
  if (error) return error;
  const items = Array.isArray(input?.batch) ? input.batch : [{ sql: input?.sql, params: input?.params }];
  if (items.length === 0 || items.some((item) => typeof item?.sql !== "string")) {
    return failure(400, 7400, "Each statement needs sql");
  }
  let results;
  try {
    const statements = items.map((item) => db.prepare(item.sql).bind(...(item.params ?? [])));
    results = await db.batch(statements); // one transaction: all or nothing
  } catch (err) {
    // As the REST API reports SQL errors: HTTP 400, code 7500, SQLite's message.
    return failure(400, 7500, String(err?.cause?.message ?? err?.message ?? err));
  }
  const result = results.map((r) => {
    const meta = r.meta ?? {};
    if (shape === "raw") {
      const rows = r.results ?? [];
      const columns = rows.length > 0 ? Object.keys(rows[0]) : [];
      return { success: true, meta, results: { columns, rows: rows.map((row) => columns.map((c) => row[c])) } };
    }
    return { success: true, meta, results: r.results ?? [] };
  });
  return json(200, envelope(result));
}

// --- Workers KV --------------------------------------------------------------------------------

// Expiration settings as the API takes them: `expiration_ttl` wins over `expiration`; both must
// be at least 60 s ahead (the binding itself refuses shorter ones, as production does).
function expiration(params) {
  const options = {};
  if (params.expiration_ttl != null && params.expiration_ttl !== "") {
    options.expirationTtl = Number(params.expiration_ttl);
  } else if (params.expiration != null && params.expiration !== "") {
    options.expiration = Number(params.expiration);
  }
  return options;
}

async function kvCall(operation) {
  try {
    return await operation();
  } catch (err) {
    return failure(400, 10001, String(err?.message ?? err));
  }
}

async function kvPut(request, kv, key, url) {
  const options = expiration(Object.fromEntries(url.searchParams));
  const type = request.headers.get("content-type") ?? "";
  let value;
  if (type.startsWith("multipart/form-data")) {
    const form = await request.formData();
    value = form.get("value");
    if (value === null) return failure(400, 10001, "multipart writes need a value field");
    if (typeof value !== "string") value = await value.arrayBuffer();
    const metadata = form.get("metadata");
    if (metadata !== null) options.metadata = JSON.parse(metadata);
  } else {
    value = await request.arrayBuffer();
  }
  return kvCall(async () => {
    await kv.put(key, value, options);
    return json(200, envelope({}));
  });
}

async function kvList(kv, url) {
  const limit = Number(url.searchParams.get("limit") ?? 1000);
  if (!(limit >= 10 && limit <= 1000)) return failure(400, 10001, "limit must be between 10 and 1000");
  const options = { limit };
  for (const name of ["prefix", "cursor"]) {
    const value = url.searchParams.get(name);
    if (value) options[name] = value;
  }
  return kvCall(async () => {
    const listed = await kv.list(options);
    const cursor = listed.list_complete ? "" : listed.cursor;
    return json(200, envelope(listed.keys, [], { result_info: { count: listed.keys.length, cursor } }));
  });
}

async function kvBulk(request, kv, operation) {
  const [input, error] = await body(request);
  if (error) return error;
  if (operation === "get") {
    if (!Array.isArray(input?.keys) || input.keys.length > 100) return failure(400, 10001, "keys: 1 to 100");
    return kvCall(async () => {
      const values = {};
      for (const key of input.keys) {
        if (input.withMetadata) {
          const { value, metadata } = await kv.getWithMetadata(key, input.type === "json" ? "json" : "text");
          values[key] = value === null ? null : { value, metadata };
        } else {
          values[key] = await kv.get(key, input.type === "json" ? "json" : "text");
        }
      }
      return json(200, envelope({ values }));
    });
  }
  if (!Array.isArray(input) || input.length > 10000) return failure(400, 10001, "1 to 10,000 items");
  const unsuccessful_keys = [];
  for (const item of input) {
    try {
      if (operation === "delete") {
        await kv.delete(item);
      } else {
        const value = item.base64 ? Uint8Array.from(atob(item.value), (c) => c.charCodeAt(0)) : item.value;
        const options = expiration(item);
        if (item.metadata !== undefined) options.metadata = item.metadata;
        await kv.put(item.key, value, options);
      }
    } catch {
      unsuccessful_keys.push(operation === "delete" ? item : item?.key);
    }
  }
  return json(200, envelope({ successful_key_count: input.length - unsuccessful_keys.length, unsuccessful_keys }));
}

async function workersKv(request, kv, rest, url) {
  const method = request.method;
  const [kind, ...tail] = rest.split("/");
  const key = tail.length > 0 ? decodeURIComponent(tail.join("/")) : null;
  if (kind === "values" && key !== null) {
    if (method === "GET") {
      const value = await kv.get(key, "arrayBuffer");
      if (value === null) return failure(404, 10009, "get: 'key not found'");
      return new Response(value, { status: 200, headers: { "content-type": "application/octet-stream" } });
    }
    if (method === "PUT") return kvPut(request, kv, key, url);
    if (method === "DELETE") return kvCall(async () => (await kv.delete(key), json(200, envelope({}))));
  }
  if (kind === "metadata" && key !== null && method === "GET") {
    const { value, metadata } = await kv.getWithMetadata(key);
    if (value === null) return failure(404, 10009, "get: 'key not found'");
    return json(200, envelope(metadata ?? null));
  }
  if (kind === "keys" && key === null && method === "GET") return kvList(kv, url);
  if (kind === "bulk" && key === null && method === "PUT") return kvBulk(request, kv, "put");
  if (kind === "bulk" && tail.join("/") === "delete" && method === "POST") return kvBulk(request, kv, "delete");
  if (kind === "bulk" && tail.join("/") === "get" && method === "POST") return kvBulk(request, kv, "get");
  return null;
}

// --- Counting ----------------------------------------------------------------------------------

// Requests served, by kind, for the benchmark's "Cloudflare requests per user-facing request":
// `GET /client/v4/__simulator/requests` (not a Cloudflare route; not counted itself).
const served = { d1: 0, kv_read: 0, kv_write: 0, kv_other: 0 };

function count(request, path) {
  if (path.includes("/d1/database")) served.d1 += 1;
  else if (path.includes("/values/") && request.method === "GET") served.kv_read += 1;
  else if (path.includes("/values/")) served.kv_write += 1;
  else if (path.includes("/storage/kv/")) served.kv_other += 1;
}

// --- Routing -----------------------------------------------------------------------------------

export default {
  async fetch(request, env) {
    if (env.TOKEN && request.headers.get("authorization") !== `Bearer ${env.TOKEN}`) {
      return failure(401, 10000, "Authentication error");
    }
    const url = new URL(request.url);
    // The raw path: KV key names are percent-encoded segments, decoded once, by workersKv.
    const path = url.pathname;
    if (path === "/client/v4/__simulator/requests" && request.method === "GET") {
      return json(200, envelope({ ...served, total: served.d1 + served.kv_read + served.kv_write + served.kv_other }));
    }
    count(request, path);
    const create = path.match(/^\/client\/v4\/accounts\/[^/]+\/d1\/database$/);
    if (create && request.method === "POST") return createDatabase(request, env);
    const query = path.match(/^\/client\/v4\/accounts\/[^/]+\/d1\/database\/([^/]+)\/(query|raw)$/);
    if (query && request.method === "POST") {
      return d1(request, database(env, query[1]), query[2]);
    }
    const kv = path.match(/^\/client\/v4\/accounts\/[^/]+\/storage\/kv\/namespaces\/[^/]+\/(.+)$/);
    if (kv) {
      const answer = await workersKv(request, env.KV, kv[1], url);
      if (answer) return answer;
    }
    return failure(404, 7000, `No route for ${request.method} ${path}`);
  },
};
