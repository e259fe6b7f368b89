// Cloudflare's D1 REST API (the paths and JSON envelopes of
// https://developers.cloudflare.com/api/resources/d1/subresources/database/methods/query/ and
// .../methods/raw/), served by a Worker over a real D1 binding, so that Alleato's D1 executor
// is tested against Cloudflare's own D1 implementation (workerd, under Miniflare). The same
// Worker, deployed with a D1 binding and a secret, is the proxy that takes a server's traffic off
// the account-wide API rate limit. See shared/reference/cloudflare-and-test-services.md §1, §4.

const json = (status, body) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

const envelope = (result, errors = []) => ({ success: errors.length === 0, errors, messages: [], result });

const failure = (status, code, message) => json(status, envelope(null, [{ code, message }]));

async function d1(request, env, shape) {
  let body;
  try {
    body = await request.json();
  } catch {
    return failure(400, 7400, "The request is not valid JSON");
  }
  const items = Array.isArray(body.batch) ? body.batch : [{ sql: body.sql, params: body.params }];
  if (items.length === 0 || items.some((item) => typeof item?.sql !== "string")) {
    return failure(400, 7400, "Each statement needs sql");
  }
  let results;
  try {
    const statements = items.map((item) => env.DB.prepare(item.sql).bind(...(item.params ?? [])));
    results = await env.DB.batch(statements); // one transaction: all or nothing
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

export default {
  async fetch(request, env) {
    if (env.TOKEN && request.headers.get("authorization") !== `Bearer ${env.TOKEN}`) {
      return failure(401, 10000, "Authentication error");
    }
    const path = new URL(request.url).pathname;
    const query = path.match(/^\/client\/v4\/accounts\/[^/]+\/d1\/database\/[^/]+\/(query|raw)$/);
    if (query && request.method === "POST") {
      return d1(request, env, query[1]);
    }
    return failure(404, 7000, `No route for ${request.method} ${path}`);
  },
};
