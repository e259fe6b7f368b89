//! The HTTP benchmark (`cargo xtask bench`): starts the release `alleato` binary on the embedded
//! stack over a fresh data directory and reports figures. It is a measurement, not a test: it
//! prints, it never fails on a slow machine.
//!
//! Reported: start-to-ready time, idle RSS, and requests/s with p50/p99 latency for
//! `GET /api/v1/chats` (20 of 50 chats), `GET /api/v1/chats/:id` (40 messages) and the
//! in-process `GET /ping` route, the machine's ceiling through the same stack; then streaming:
//! time to first byte, generations per second, server CPU per chunk, 1,000 open streams.
//!
//! With `--traditional` it runs on PostgreSQL + Redis + S3 (the local test services); with
//! `--edge`, on the Cloudflare stack: D1 and Workers KV through Cloudflare's simulator (the
//! Worker in `tests/cf-shim/`, which counts the requests it serves) and R2 through s3s-fs,
//! and it adds a table of Cloudflare API requests per user-facing request, per route.
//!
//! With `--copy` it measures `alleato migrate copy` instead: 100,000 messages from the embedded
//! stack to PostgreSQL, beside PostgreSQL's own `COPY` of the same rows (`copy.rs`).
//!
//! Usage: `bench <path to alleato binary> [--seconds N] [--connections N] [--traditional | --edge | --copy]`

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use alleato_e2e::alleato_sdk::Client;
use alleato_e2e::alleato_sdk::api::{ChatId, CreateChatRequest};
use alleato_e2e::process::{ServerProcess, cloudflare_env, traditional_env};
use futures::StreamExt;

mod copy;
mod streaming;

use streaming::streaming;

struct Args {
    binary: PathBuf,
    seconds: u64,
    connections: usize,
    /// Run on PostgreSQL + Redis + S3 (the local test services) instead of the embedded stack.
    traditional: bool,
    /// Run on D1 + Workers KV (Cloudflare's simulator) + R2 (s3s-fs with R2's settings).
    edge: bool,
    /// Measure `alleato migrate copy` instead of the HTTP server.
    copy: bool,
}

static STACK_ENV: std::sync::OnceLock<Vec<(String, String)>> = std::sync::OnceLock::new();

fn parse_args() -> Args {
    let mut args = std::env::args().skip(1);
    let binary = PathBuf::from(args.next().expect("usage: bench <alleato binary> [--seconds N] [--connections N]"));
    let (mut seconds, mut connections, mut traditional, mut edge, mut copy) = (5, 32, false, false, false);
    while let Some(flag) = args.next() {
        if flag == "--traditional" || flag == "--edge" || flag == "--copy" {
            traditional |= flag == "--traditional";
            edge |= flag == "--edge";
            copy |= flag == "--copy";
            continue;
        }
        let value = args.next().and_then(|v| v.parse().ok()).expect("a number after the flag");
        match flag.as_str() {
            "--seconds" => seconds = value as u64,
            "--connections" => connections = value,
            other => panic!("unknown flag {other}"),
        }
    }
    Args { binary, seconds, connections, traditional, edge, copy }
}

/// Starts the binary and returns it with the time until `/ready` first answered 200.
async fn start(binary: &Path, data_dir: &Path) -> (ServerProcess, Duration) {
    start_with(binary, data_dir, &[]).await
}

async fn start_with(binary: &Path, data_dir: &Path, env: &[(&str, &str)]) -> (ServerProcess, Duration) {
    let fixed = [("RATE_LIMIT_ENABLED", "false"), ("JWT_SECRET", "benchmark-secret-benchmark-secret-0123456789")];
    let stack = STACK_ENV.get().into_iter().flatten().map(|(k, v)| (k.as_str(), v.as_str()));
    ServerProcess::start(binary, data_dir, fixed.into_iter().chain(stack).chain(env.iter().copied())).await
}

struct Figures {
    rps: f64,
    p50: Duration,
    p99: Duration,
    errors: u64,
}

/// `connections` workers, each with its own keep-alive connection, request `url` in a loop for
/// `seconds` (after a one-second warm-up).
async fn load(url: &str, token: Option<&str>, connections: usize, seconds: u64) -> Figures {
    let deadline_warm = Instant::now() + Duration::from_secs(1);
    let deadline = deadline_warm + Duration::from_secs(seconds);
    let url = Arc::new(url.to_owned());
    let token = Arc::new(token.map(str::to_owned));
    let mut workers = Vec::new();
    for _ in 0..connections {
        let (url, token) = (url.clone(), token.clone());
        workers.push(tokio::spawn(async move {
            let http = reqwest::Client::builder().pool_max_idle_per_host(1).build().unwrap();
            let mut latencies = Vec::with_capacity(64 * 1024);
            let mut errors = 0u64;
            loop {
                let now = Instant::now();
                if now >= deadline {
                    break;
                }
                let mut request = http.get(url.as_str());
                if let Some(token) = token.as_deref() {
                    request = request.bearer_auth(token);
                }
                let ok = match request.send().await {
                    Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                if now >= deadline_warm {
                    latencies.push(now.elapsed().as_micros() as u32);
                    errors += u64::from(!ok);
                }
            }
            (latencies, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for w in workers {
        let (lat, err) = w.await.unwrap();
        all.extend(lat);
        errors += err;
    }
    all.sort_unstable();
    let pct = |p: f64| Duration::from_micros(u64::from(all[((all.len() as f64 * p) as usize).min(all.len() - 1)]));
    Figures { rps: all.len() as f64 / seconds as f64, p50: pct(0.50), p99: pct(0.99), errors }
}

#[tokio::main]
async fn main() {
    let args = parse_args();
    if args.copy {
        copy::copy_throughput(&args.binary, 100_000).await;
        return;
    }
    let run = alleato_e2e::uuid_like();
    let env = match (args.traditional, args.edge) {
        (true, _) => traditional_env("bench", &run),
        (_, true) => cloudflare_env("bench", &run),
        _ => Vec::new(),
    };
    STACK_ENV.set(env).unwrap();
    if std::env::var("BENCH_ONLY_STREAMING").is_ok() {
        streaming(&args.binary, args.connections, args.seconds).await;
        return;
    }
    let dir = tempfile::tempdir().unwrap();

    let (server, cold_start) = start(&args.binary, dir.path()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle_rss = server.rss_kib();
    let base = server.base_url();
    let client = Client::new(base.clone());

    // 50 chats of which the listing returns 20; one chat with 40 messages.
    let session = client
        .register(&format!("bench-{}@example.com", alleato_e2e::uuid_like()), "benchmark password")
        .await
        .unwrap();
    let user = client.with_token(&session.token);
    let mut busy = None;
    for i in 0..50 {
        let chat = user
            .create_chat(&CreateChatRequest { title: Some(format!("chat {i}")), ..Default::default() })
            .await
            .unwrap();
        busy.get_or_insert(chat.id);
    }
    let busy = busy.unwrap();
    seed_messages(dir.path(), busy, 40).await;
    assert_eq!(user.get_chat(busy).await.unwrap().messages.len(), 40);

    let ceiling = load(&format!("{base}/ping"), None, args.connections, args.seconds).await;
    let listing =
        load(&format!("{base}/api/v1/chats?limit=20"), Some(&session.token), args.connections, args.seconds).await;
    let reading =
        load(&format!("{base}/api/v1/chats/{busy}"), Some(&session.token), args.connections, args.seconds).await;
    let loaded_rss = server.rss_kib();
    drop(server);

    // A second start over the now populated data directory.
    let (server, warm_start) = start(&args.binary, dir.path()).await;
    drop(server);

    let stack = match (args.traditional, args.edge) {
        (true, _) => "traditional stack (PostgreSQL + Redis + S3)",
        (_, true) => "Cloudflare stack (D1 + Workers KV in Cloudflare's simulator, R2 through s3s-fs)",
        _ => "embedded stack",
    };
    println!(
        "alleato benchmark: {stack}, {} connections, {} s per route, release build",
        args.connections, args.seconds
    );
    println!();
    println!("| route | requests/s | p50 | p99 | errors |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for (name, f) in [
        ("GET /ping (ceiling)", &ceiling),
        ("GET /api/v1/chats?limit=20 (of 50)", &listing),
        ("GET /api/v1/chats/:id (40 messages)", &reading),
    ] {
        println!("| {name} | {:.0} | {:.2} ms | {:.2} ms | {} |", f.rps, ms(f.p50), ms(f.p99), f.errors);
    }
    println!();
    let ratio = listing.rps / ceiling.rps * 100.0;
    println!("listing / ceiling: {ratio:.1}% (target >= 30%)");
    println!("chat read / ceiling: {:.1}%", reading.rps / ceiling.rps * 100.0);
    println!(
        "idle RSS: {:.1} MiB (target < 30 MiB); after load: {:.1} MiB",
        idle_rss as f64 / 1024.0,
        loaded_rss as f64 / 1024.0
    );
    println!(
        "start to first successful /ready: {:.0} ms on a fresh data dir, {:.0} ms on an existing one (target < 200 ms)",
        ms(cold_start),
        ms(warm_start)
    );
    if args.edge {
        cloudflare_requests(&args.binary).await;
    }
    streaming(&args.binary, args.connections, args.seconds).await;
}

/// The simulator's count of requests served, by kind.
async fn served() -> serde_json::Value {
    let url = format!("{}/__simulator/requests", alleato_e2e::cf_url());
    let answer: serde_json::Value = reqwest::get(url).await.unwrap().json().await.unwrap();
    answer["result"].clone()
}

/// Cloudflare API requests per user-facing request, per route, counted by the simulator's
/// Worker: each route is called `N` times in a row after one call that warms the caches, on a
/// server with rate limiting on (its counters are settled with D1 every 2 s, so part of a
/// request each).
async fn cloudflare_requests(binary: &Path) {
    const N: usize = 20;
    let dir = tempfile::tempdir().unwrap();
    let (server, _) = start_with(binary, dir.path(), &[("RATE_LIMIT_ENABLED", "true")]).await;
    let client = Client::new(server.base_url());
    let session =
        client.register(&format!("cf-{}@example.com", alleato_e2e::uuid_like()), "benchmark password").await.unwrap();
    let user = client.with_token(&session.token);
    let chat = user.create_chat(&CreateChatRequest::default()).await.unwrap();
    let mut rows = Vec::new();
    macro_rules! measure {
        ($name:expr, $call:expr) => {{
            $call;
            let before = served().await;
            for _ in 0..N {
                $call;
            }
            let after = served().await;
            let per = |kind: &str| (after[kind].as_u64().unwrap() - before[kind].as_u64().unwrap()) as f64 / N as f64;
            rows.push(($name, per("total"), per("d1"), per("kv_read"), per("kv_write") + per("kv_other")));
        }};
    }
    measure!("GET /api/v1/auth/me (a cached session check)", user.me().await.unwrap());
    measure!("GET /api/v1/chats (a listing)", user.list_chats(&Default::default()).await.unwrap());
    measure!("GET /api/v1/chats/:id (a read)", user.get_chat(chat.id).await.unwrap());
    measure!("POST /api/v1/chats/:id/messages (send, stream to the end)", {
        let mut events = user.send_text(ChatId::new(), "Count my requests").await.unwrap();
        while events.next().await.is_some() {}
    });
    drop(server);
    println!();
    println!("Cloudflare API requests per user-facing request ({N} calls each, counted by the simulator's Worker):");
    println!();
    println!("| route | all | D1 | KV reads | KV writes |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for (name, all, d1, reads, writes) in rows {
        println!("| {name} | {all:.2} | {d1:.2} | {reads:.2} | {writes:.2} |");
    }
}

/// CPU time (user + system) the process has used so far.
fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn seed_messages(data_dir: &Path, chat: alleato_core::ids::ChatId, n: usize) {
    use alleato_core::model::{MessagePart, Role, StoredMessage};
    let env: std::collections::HashMap<_, _> = STACK_ENV.get().into_iter().flatten().cloned().collect();
    // The server's own opener, over the same settings the server process was given.
    let mut config = alleato_server::Config { data_dir: data_dir.to_path_buf(), ..Default::default() };
    if let Some(url) = env.get("DATABASE_URL") {
        config.database.url = Some(alleato_server::config::Secret::new(url.clone()));
        config.database.schema = env.get("ALLEATO_DATABASE__SCHEMA").cloned();
    }
    if let Some(database) = env.get("CLOUDFLARE_D1_DATABASE_ID") {
        let cf = &mut config.cloudflare;
        cf.use_cloudflare = Some(true);
        cf.api_base_url = env["CLOUDFLARE_API_BASE_URL"].clone();
        cf.account_id = env.get("CLOUDFLARE_ACCOUNT_ID").cloned();
        cf.api_token = env.get("CLOUDFLARE_API_TOKEN").map(|t| alleato_server::config::Secret::new(t.clone()));
        cf.d1_database_id = Some(database.clone());
        cf.api_requests_per_5_minutes = u32::MAX;
    }
    let db = alleato_server::wiring::open_database(&config).await.unwrap().chats;
    let start = alleato_core::time::now();
    let text =
        "A reasonably long message of the kind people send to a chat assistant, with a few sentences in it. ".repeat(3);
    let messages: Vec<_> = (0..n)
        .map(|i| StoredMessage {
            id: alleato_core::ids::MessageId::new(),
            chat_id: chat,
            role: if i % 2 == 0 { Role::User } else { Role::Assistant },
            parts: vec![MessagePart::text(format!("{i}: {text}"))],
            attachments: vec![],
            created_at: start + Duration::from_millis(i as u64),
        })
        .collect();
    db.insert_messages(&messages).await.unwrap();
}
