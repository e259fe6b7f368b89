// Starts the Worker in worker.mjs under Miniflare 4 (Cloudflare's simulator, workerd inside) on
// 127.0.0.1:$PORT (default 8787), with one KV namespace and a pool of $D1_POOL (default 400) D1
// databases, one per database id named in requests; prints READY when it serves.
// Account and namespace ids in request paths are not checked: any ids work. SIGTERM stops it.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";

const port = Number(process.env.PORT ?? 8787);
const poolSize = Number(process.env.D1_POOL ?? 400);
const pool = Array.from({ length: poolSize }, (_, i) => `DB_${i}`);
const bindings = { DB_POOL: String(poolSize) };
if (process.env.CF_SHIM_TOKEN) bindings.TOKEN = process.env.CF_SHIM_TOKEN;
const mf = new Miniflare({
  modules: true,
  script: readFileSync(fileURLToPath(new URL("./worker.mjs", import.meta.url)), "utf8"),
  d1Databases: ["DB", ...pool],
  kvNamespaces: ["KV"],
  bindings,
  compatibilityDate: "2025-01-01",
  host: "127.0.0.1",
  port,
});
await mf.ready;
console.log(`READY http://127.0.0.1:${port}/client/v4`);
const stop = async () => {
  await mf.dispose();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
