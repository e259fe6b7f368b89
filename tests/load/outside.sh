#!/usr/bin/env bash
# Measures the release server from outside, with the tools the original Next.js API was
# measured with: oha (32 connections, 5 s after a 2 s warm-up) on `/ping` and on a listing (a
# user with 50 chats), and the closed-loop Node `fetch` client of roundtrips.mjs (32 workers,
# 10 s, a new chat per message, the whole answer read, zero model delay). Embedded and
# traditional run back to back, so their figures are of the same run.
#
#   tests/load/outside.sh            # both stacks
#   tests/load/outside.sh traditional
#
# Needs PostgreSQL and Redis for the traditional stack (as `cargo xtask test` starts them) and
# oha (`cargo install oha --locked`, done here once if missing). Uploads stay on local disk:
# nothing here touches them.
set -euo pipefail
cd "$(dirname "$0")/../.."
here=tests/load
stacks=("$@")
[[ ${#stacks[@]} -gt 0 ]] || stacks=(embedded traditional)

command -v oha > /dev/null || cargo install oha --locked --quiet
cargo build --release --quiet --bin alleato
binary=target/release/alleato
port=18787
base="http://127.0.0.1:$port"

common=(
  RATE_LIMIT_ENABLED=false
  JWT_SECRET=outside-measurement-secret-0123456789abcdef
  ALLEATO_CHAT__REGULAR_MESSAGES_PER_DAY=1000000000
  AI_MOCK_CHUNK_DELAY_MS=0
  ALLEATO_ADDR=127.0.0.1:$port
  ALLEATO_CONFIG=/nonexistent/alleato.toml
  RUST_LOG=warn
)

oha_rps() { # url [token] -> "req/s p99_ms"
  local auth=()
  [[ -n "${2:-}" ]] && auth=(-H "authorization: Bearer $2")
  oha --no-tui --output-format json -c 32 -z 2s "${auth[@]}" "$1" > /dev/null
  oha --no-tui --output-format json -c 32 -z 5s "${auth[@]}" "$1" |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s);
      const ok=r.statusCodeDistribution?.["200"]??0;
      console.log(`${r.summary.requestsPerSec.toFixed(0)} ${(r.latencyPercentiles.p99*1000).toFixed(1)} ${ok}`)})'
}

for stack in "${stacks[@]}"; do
  dir=$(mktemp -d)
  env=("${common[@]}" "ALLEATO_DATA_DIR=$dir")
  if [[ $stack == traditional ]]; then
    run="outside_$(date +%s)"
    env+=(
      "DATABASE_URL=${ALLEATO_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
      "ALLEATO_DATABASE__SCHEMA=$run"
      "REDIS_URL=${ALLEATO_TEST_REDIS_URL:-redis://127.0.0.1:6379}"
      "ALLEATO_REDIS__PREFIX=$run:"
    )
  fi
  env -i PATH="$PATH" "${env[@]}" "$binary" > "$dir/server.log" 2>&1 &
  server=$!
  trap 'kill $server 2> /dev/null || true' EXIT
  for _ in $(seq 100); do curl -sf "$base/ready" > /dev/null && break; sleep 0.1; done
  token=$(node "$here/roundtrips.mjs" "$base" setup | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).token))')
  read -r ping_rps ping_p99 _ <<< "$(oha_rps "$base/ping")"
  read -r list_rps list_p99 list_ok <<< "$(oha_rps "$base/api/v1/chats?limit=20" "$token")"
  trips=$(node "$here/roundtrips.mjs" "$base" --workers 32 --seconds 10 --warmup 2)
  share=$(node -e "console.log((100*$list_rps/$ping_rps).toFixed(1))")
  echo "$stack: /ping $ping_rps req/s (p99 $ping_p99 ms); listing $list_rps req/s (p99 $list_p99 ms, $list_ok × 200) = $share% of /ping; chat round trips $trips"
  kill $server; wait $server 2> /dev/null || true
  rm -rf "$dir"
  if [[ $stack == traditional ]]; then # best effort: what this run left in PostgreSQL and Redis
    psql "${ALLEATO_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}" -qc "DROP SCHEMA \"$run\" CASCADE" 2> /dev/null || true
    redis-cli -u "${ALLEATO_TEST_REDIS_URL:-redis://127.0.0.1:6379}" --scan --pattern "$run:*" | xargs -r redis-cli -u "${ALLEATO_TEST_REDIS_URL:-redis://127.0.0.1:6379}" del > /dev/null || true
  fi
done
