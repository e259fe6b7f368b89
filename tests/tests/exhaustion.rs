//! One anonymous client must not be able to take the server down: not with a burst of password
//! checks (memory), nor with connections that never finish their headers (slowloris). These
//! run the real `alleato` binary, with its own allocator and limits, as a separate process.

use std::time::{Duration, Instant};

use alleato_e2e::process::{ServerProcess, server_binary};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const LOOSE_LIMITS: [(&str, &str); 3] = [
    ("ALLEATO_RATE_LIMIT__API_PER_MINUTE", "1000000"),
    ("ALLEATO_RATE_LIMIT__AUTH_PER_MINUTE", "1000000"),
    ("AI_MOCK_CHUNK_DELAY_MS", "1"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_failed_logins_stays_within_memory_and_gives_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let (server, _) = ServerProcess::start(&server_binary(), dir.path(), LOOSE_LIMITS).await;
    let url = format!("{}/api/v1/auth/login", server.base_url());
    let http = reqwest::Client::new();
    let idle = server.rss_kib();

    // 200 at once, no account needed: each one is an Argon2id hash (19 MiB) or a refusal.
    let attempts: Vec<_> = (0..200)
        .map(|i| {
            let (http, url) = (http.clone(), url.clone());
            tokio::spawn(async move {
                let body =
                    serde_json::json!({"email": format!("nobody-{i}@example.com"), "password": "wrong password"});
                let response = http.post(&url).json(&body).send().await.unwrap();
                let status = response.status().as_u16();
                let retry_after = response.headers().contains_key("retry-after");
                let body: serde_json::Value = response.json().await.unwrap();
                (status, retry_after, body["code"].as_str().unwrap_or_default().to_owned())
            })
        })
        .collect();
    let (mut refused, mut busy) = (0, 0);
    for attempt in attempts {
        match attempt.await.unwrap() {
            (401, _, code) if code == "unauthorized:auth" => refused += 1,
            (503, true, code) if code == "unavailable:auth" => busy += 1,
            other => panic!("unexpected answer to a failed login: {other:?}"),
        }
    }
    let peak = server.peak_rss_kib();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = server.rss_kib();
    eprintln!(
        "200 concurrent failed logins: {refused} answered 401, {busy} told to retry (503); RSS idle {} MiB, peak {} MiB, \
         2 s later {} MiB",
        idle / 1024,
        peak / 1024,
        after / 1024
    );
    assert!(refused > 0, "some logins were checked");
    assert!(peak < 150 * 1024, "peak RSS {} MiB, the bound is 150 MiB", peak / 1024);
    assert!(
        after < peak.min(100 * 1024),
        "memory was given back: {} MiB after, {} MiB peak",
        after / 1024,
        peak / 1024
    );
}

/// Opens a connection and sends half a request head, never the end of it.
async fn half_open(addr: &str) -> std::io::Result<TcpStream> {
    let mut tcp = TcpStream::connect(addr).await?;
    tcp.write_all(b"GET /ping HTTP/1.1\r\nHost: alleato\r\nX-Slow: ").await?;
    Ok(tcp)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_open_connections_neither_starve_others_nor_stay_open() {
    // This process holds the attacker's 2,000 sockets too.
    rlimit::increase_nofile_limit(8192).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Started with the common default soft limit of 1,024 open files (the hard limit stays as it
    // is): the server must raise it itself, or it runs out of descriptors below 2,000.
    let wrapper = dir.path().join("start.sh");
    std::fs::write(&wrapper, format!("#!/bin/sh\nulimit -Sn 1024\nexec {} \"$@\"\n", server_binary().display()))
        .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let env = LOOSE_LIMITS.into_iter().chain([("ALLEATO_HEADER_READ_TIMEOUT_SECS", "3")]);
    let data = dir.path().join("data");
    let (server, _) = ServerProcess::start(&wrapper, &data, env).await;

    let mut held = Vec::new();
    for _ in 0..2000 {
        held.push(half_open(&server.addr).await.expect("the server accepts the connection"));
    }
    let began = Instant::now();
    let ping = tokio::time::timeout(
        Duration::from_secs(10),
        reqwest::Client::new().get(format!("{}/ping", server.base_url())).send(),
    )
    .await
    .expect("a normal request is answered while 2,000 half-open connections are held")
    .unwrap();
    let took = began.elapsed();
    assert_eq!(ping.status(), 200);
    eprintln!("with 2,000 half-open connections held, /ping answered in {} ms", took.as_millis());

    // After the header-read timeout, the server has closed them.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let mut closed = 0;
    for tcp in held.iter_mut().step_by(100) {
        let mut buf = [0u8; 512];
        match tokio::time::timeout(Duration::from_secs(2), tcp.read(&mut buf)).await {
            // A 408 or nothing, then the end of the stream; or a reset.
            Ok(Ok(0)) | Ok(Err(_)) => closed += 1,
            Ok(Ok(_)) => {
                if matches!(tokio::time::timeout(Duration::from_secs(2), tcp.read(&mut buf)).await, Ok(Ok(0) | Err(_)))
                {
                    closed += 1;
                }
            }
            Err(_) => {}
        }
    }
    assert_eq!(closed, 20, "every sampled half-open connection was closed by the server");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filling_the_stream_caps_does_not_fill_memory() {
    let dir = tempfile::tempdir().unwrap();
    let (server, _) = ServerProcess::start(&server_binary(), dir.path(), LOOSE_LIMITS).await;
    let client = alleato_sdk::Client::new(server.base_url());
    let value = serde_json::json!("v".repeat(60_000));
    let mut full = Vec::new();
    // Two guests, each at the cap: 64 streams of ~1 MiB, 128 MiB of values in all.
    for _ in 0..2 {
        let guest = client.with_token(&client.guest().await.unwrap().token);
        let writers: Vec<_> = (0..64)
            .map(|_| {
                let (guest, value) = (guest.clone(), value.clone());
                tokio::spawn(async move {
                    let stream = guest.create_stream().await.unwrap();
                    for _ in 0..17 {
                        guest.append_stream(stream, &value).await.unwrap();
                    }
                    (guest, stream)
                })
            })
            .collect();
        for writer in writers {
            full.push(writer.await.unwrap());
        }
    }
    let filled = server.peak_rss_kib();
    // Sixteen readers of full streams at once.
    let readers: Vec<_> = full
        .iter()
        .take(16)
        .cloned()
        .map(|(guest, stream)| tokio::spawn(async move { guest.get_stream(stream).await.unwrap().data.len() }))
        .collect();
    for reader in readers {
        assert_eq!(reader.await.unwrap(), 17);
    }
    let peak = server.peak_rss_kib();
    eprintln!(
        "128 MiB of stream values from two users: peak RSS {} MiB while writing, {} MiB with 16 readers",
        filled / 1024,
        peak / 1024
    );
    assert!(peak < 150 * 1024, "peak RSS {} MiB, the bound is 150 MiB", peak / 1024);
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_header_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = alleato_e2e::test_config(dir.path().to_path_buf());
    config.header_read_timeout_secs = 1;
    let app = alleato_e2e::TestApp::spawn_with(config, Some(dir)).await;
    let mut tcp = TcpStream::connect(app.server.addr).await.unwrap();
    tcp.write_all(b"GET /ping HTTP/1.1\r\nHost: alleato\r\n\r\n").await.unwrap();
    let mut buf = vec![0u8; 1024];
    let n = tcp.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"), "a normal answer first");
    // Kept alive, then silent: the server closes it rather than hold it for ever.
    // (Reading to the end returns once the server has closed it, whatever it said before.)
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut rest)).await.expect("closed in time").ok();
}
