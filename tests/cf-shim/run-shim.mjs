// Starts the Worker in worker.mjs under Miniflare 4 (Cloudflare's simulator, workerd inside) on
// 127.0.0.1:$PORT (default 8787), with one D1 database; prints READY when it serves. The
// account and database ids in request paths are not checked: any ids work. SIGTERM stops it.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";

const port = Number(process.env.PORT ?? 8787);
const mf = new Miniflare({
  modules: true,
  script: readFileSync(fileURLToPath(new URL("./worker.mjs", import.meta.url)), "utf8"),
  d1Databases: ["DB"],
  bindings: process.env.CF_SHIM_TOKEN ? { TOKEN: process.env.CF_SHIM_TOKEN } : {},
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
