//! Streaming figures: time to first byte, complete generations per second (one user's, and a
//! user per client), server CPU per streamed chunk, and 1,000 streams held open at once.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alleato_e2e::alleato_sdk::Client;
use alleato_e2e::alleato_sdk::api::ChatId;
use futures::StreamExt;

use super::{ms, start_with};

pub(crate) fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let ticks: u64 = [11, 12].iter().filter_map(|&i| fields.get(i)?.parse::<u64>().ok()).sum();
    Duration::from_secs_f64(ticks as f64 / 100.0) // USER_HZ is 100 on Linux
}

struct Generations {
    done: u64,
    failed: u64,
    chunks: u64,
    cpu: Duration,
}

impl Generations {
    fn cpu_per_generation(&self) -> f64 {
        self.cpu.as_secs_f64() / self.done.max(1) as f64
    }

    fn chunks_per_generation(&self) -> f64 {
        self.chunks as f64 / self.done.max(1) as f64
    }
}

/// Whose messages the clients send: one account's (a user's messages are counted against one
/// quota, so their starts are serialised) or each client its own.
#[derive(Clone, Copy, PartialEq)]
enum Senders {
    OneUser,
    UserPerClient,
}

/// `connections` clients sending messages (each to a new chat) and reading the answers to the
/// end for `seconds`, against a fresh server started with `env`.
async fn generations(
    binary: &Path,
    env: &[(&str, &str)],
    connections: usize,
    seconds: u64,
    senders: Senders,
) -> Generations {
    let dir = tempfile::tempdir().unwrap();
    let (server, _) = start_with(binary, dir.path(), env).await;
    let client = Client::new(server.base_url());
    let accounts = if senders == Senders::OneUser { 1 } else { connections };
    let mut users = Vec::new();
    for _ in 0..accounts {
        let email = format!("gen-{}@example.com", alleato_e2e::uuid_like());
        let session = client.register(&email, "benchmark password").await.unwrap();
        users.push(client.with_token(&session.token));
    }
    let pid = server.child.id();
    let cpu_before = cpu_time(pid);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut workers = Vec::new();
    for n in 0..connections {
        let user = users[n % users.len()].clone();
        workers.push(tokio::spawn(async move {
            let (mut done, mut failed, mut chunks) = (0u64, 0u64, 0u64);
            while Instant::now() < deadline {
                match user.send_text(ChatId::new(), "Short question about streaming").await {
                    Ok(mut events) => {
                        let mut ok = false;
                        while let Some(event) = events.next().await {
                            chunks += 1;
                            ok = event.map(|e| e.is_done()).unwrap_or(false);
                        }
                        if ok { done += 1 } else { failed += 1 }
                    }
                    Err(_) => failed += 1,
                }
            }
            (done, failed, chunks)
        }));
    }
    let mut run = Generations { done: 0, failed: 0, chunks: 0, cpu: Duration::ZERO };
    for w in workers {
        let (d, f, c) = w.await.unwrap();
        run.done += d;
        run.failed += f;
        run.chunks += c;
    }
    run.cpu = cpu_time(pid) - cpu_before;
    run
}

/// Streaming figures: time to first byte, generations per second and server time per chunk
/// (mock model, no delay), and 1,000 streams held open at once.
pub(crate) async fn streaming(binary: &Path, connections: usize, seconds: u64) {
    let unlimited = [("ALLEATO_CHAT__REGULAR_MESSAGES_PER_DAY", "1000000000")];
    let dir = tempfile::tempdir().unwrap();
    let env = [unlimited[0], ("AI_MOCK_CHUNK_DELAY_MS", "0")];
    let (server, _) = start_with(binary, dir.path(), &env).await;
    let client = Client::new(server.base_url());
    let session = client
        .register(&format!("stream-{}@example.com", alleato_e2e::uuid_like()), "benchmark password")
        .await
        .unwrap();
    let user = client.with_token(&session.token);

    // Time to first byte of a new message (a new chat each time), sequentially.
    let mut ttfb = Vec::new();
    for _ in 0..200 {
        let began = Instant::now();
        let mut events = user.send_text(ChatId::new(), "How fast is the first byte?").await.unwrap();
        events.next().await.unwrap().unwrap();
        ttfb.push(began.elapsed());
        while events.next().await.is_some() {}
    }
    ttfb.sort_unstable();

    drop(server);

    // Complete generations per second, `connections` clients at once; then the same with long
    // replies, to separate the cost of a chunk from the cost of a generation.
    let fast = [unlimited[0], ("AI_MOCK_CHUNK_DELAY_MS", "0")];
    let short = generations(binary, &fast, connections, seconds, Senders::OneUser).await;
    let short_many = generations(binary, &fast, connections, seconds, Senders::UserPerClient).await;
    let long = generations(
        binary,
        &[unlimited[0], ("AI_MOCK_CHUNK_DELAY_MS", "0"), ("AI_MOCK_REPLY_WORDS", "1000")],
        connections,
        seconds,
        Senders::OneUser,
    )
    .await;

    // 1,000 streams open at once: a slow mock keeps each generation running for seconds.
    let dir = tempfile::tempdir().unwrap();
    let env = [unlimited[0], ("AI_MOCK_CHUNK_DELAY_MS", "100")];
    let (server, _) = start_with(binary, dir.path(), &env).await;
    let client = Client::new(server.base_url());
    let session =
        client.register(&format!("many-{}@example.com", alleato_e2e::uuid_like()), "benchmark password").await.unwrap();
    let user = client.with_token(&session.token);
    let idle_rss = server.rss_kib();
    let open = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut streams = Vec::new();
    for _ in 0..1000 {
        let (user, open) = (user.clone(), open.clone());
        // Ok, or why the stream failed (reported grouped, so a failure is explained).
        streams.push(tokio::spawn(async move {
            let mut events = user.send_text(ChatId::new(), "Hold this stream open").await.map_err(|e| e.to_string())?;
            events.next().await.ok_or("ended before any event")?.map_err(|e| e.to_string())?;
            open.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut last = None;
            while let Some(event) = events.next().await {
                let event = event.map_err(|e| e.to_string())?;
                if event.json().is_some_and(|v| v["type"] == "error") {
                    return Err(format!("error event: {}", event.data));
                }
                last = Some(event);
            }
            match last {
                Some(event) if event.is_done() => Ok(()),
                _ => Err("ended without [DONE]".to_owned()),
            }
        }));
    }
    let mut peak_open = 0;
    let mut peak_rss = 0;
    let held_since = Instant::now();
    while held_since.elapsed() < Duration::from_secs(60) {
        let now_open = open.load(std::sync::atomic::Ordering::SeqCst);
        peak_open = peak_open.max(now_open);
        peak_rss = peak_rss.max(server.rss_kib());
        if streams.iter().all(|s| s.is_finished()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut completed = 0;
    let mut failures = std::collections::BTreeMap::<String, usize>::new();
    for s in streams {
        match s.await {
            Ok(Ok(())) => completed += 1,
            Ok(Err(why)) => *failures.entry(why).or_default() += 1,
            Err(panic) => *failures.entry(panic.to_string()).or_default() += 1,
        }
    }
    drop(server);

    println!();
    println!("streaming (mock model):");
    println!(
        "time to first byte of a new message: p50 {:.2} ms, p99 {:.2} ms (200 sequential, no chunk delay)",
        ms(ttfb[ttfb.len() / 2]),
        ms(ttfb[ttfb.len() * 99 / 100])
    );
    for (name, run) in [
        ("short replies (~40 words), one user", &short),
        ("short replies (~40 words), a user per client", &short_many),
        ("long replies (1,000 words), one user", &long),
    ] {
        println!(
            "complete generations, {name}: {:.0}/s with {connections} clients for {seconds} s ({} done, {} failed, {:.0} chunks each, {:.2} ms server CPU each)",
            run.done as f64 / seconds as f64,
            run.done,
            run.failed,
            run.chunks_per_generation(),
            run.cpu_per_generation() * 1e3
        );
    }
    let per_chunk = (long.cpu_per_generation() - short.cpu_per_generation())
        / (long.chunks_per_generation() - short.chunks_per_generation());
    println!(
        "server time added per streamed chunk: {:.1} µs (the difference between long and short generations, per extra chunk; target < 20 µs)",
        per_chunk * 1e6
    );
    println!(
        "1,000 concurrent streams (100 ms per chunk): {peak_open} open at once, {completed} completed, {} failed; \
         RSS {:.1} MiB idle, {:.1} MiB peak (target < 150 MiB, none failed)",
        1000 - completed,
        idle_rss as f64 / 1024.0,
        peak_rss as f64 / 1024.0
    );
    for (why, count) in failures {
        println!("  {count} failed: {why}");
    }
}
