//! Two `alleato` server processes sharing PostgreSQL, Redis and S3, as instances behind a load
//! balancer do: sessions, logouts, rate limits, files and generations cross between them. Each
//! process has its own data directory, so nothing passes through the local disk.

use std::time::Duration;

use alleato_e2e::process::{ServerProcess, cloudflare_env, server_binary, traditional_env};
use alleato_e2e::{PNG, assert_api_error, collect, deltas, uuid_like};
use alleato_sdk::Client;
use alleato_sdk::api::{AuthResponse, ChatId};
use futures::StreamExt;

/// One server process and a client for it.
struct Instance {
    client: Client,
    _process: ServerProcess,
    _dir: tempfile::TempDir,
}

impl Instance {
    /// Registers a fresh regular user and returns a client signed in as them.
    async fn user(&self) -> (Client, AuthResponse) {
        alleato_e2e::register_user(&self.client).await
    }
}

/// Two processes on the traditional stack, in a schema, key prefix and bucket prefix of their
/// own, configured by the environment only; `extra` is added to both.
async fn pair(extra: &[(&str, &str)]) -> (Instance, Instance) {
    pair_on(traditional_env("e2e", &uuid_like()), extra).await
}

/// Two processes on `stack` (a database, key-value store and bucket prefix of their own);
/// `extra` is added to both.
async fn pair_on(stack: Vec<(String, String)>, extra: &[(&str, &str)]) -> (Instance, Instance) {
    let shared: [(&str, &str); 6] = [
        ("ALLEATO_DATABASE__MAX_CONNECTIONS", "4"),
        ("JWT_SECRET", "shared-secret-for-both-instances-0123456789"),
        ("ALLEATO_RATE_LIMIT__API_PER_MINUTE", "100000"),
        ("ALLEATO_RATE_LIMIT__AUTH_PER_MINUTE", "100000"),
        ("ALLEATO_RATE_LIMIT__UPLOAD_PER_MINUTE", "100000"),
        ("AI_MOCK_CHUNK_DELAY_MS", "1"),
    ];
    let env: Vec<(String, String)> =
        stack.into_iter().chain(shared.iter().chain(extra).map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))).collect();
    let binary = server_binary();
    let mut instances = Vec::new();
    for _ in 0..2 {
        let dir = tempfile::tempdir().unwrap();
        let (process, _) = ServerProcess::start(&binary, dir.path(), env.iter().map(|(k, v)| (k, v))).await;
        instances.push(Instance { client: Client::new(process.base_url()), _process: process, _dir: dir });
    }
    let b = instances.pop().unwrap();
    let a = instances.pop().unwrap();
    assert_ne!(a._process.child.id(), b._process.child.id());
    (a, b)
}

/// The bound the README states for a logout, a password change or a deletion on one instance
/// reaching another while both hold the session in memory: Redis pub/sub delivers the
/// announcement in milliseconds; this leaves room for a loaded test machine.
const ANNOUNCED_WITHIN: Duration = Duration::from_secs(1);

/// Waits until `client`'s session is refused; fails if that takes longer than
/// [`ANNOUNCED_WITHIN`].
async fn refused_within_the_bound(client: &Client, what: &str) {
    let start = std::time::Instant::now();
    loop {
        match client.me().await {
            Err(err) if err.status() == Some(401) => return,
            Err(err) => panic!("{what}: unexpected error {err}"),
            Ok(_) => assert!(start.elapsed() < ANNOUNCED_WITHIN, "{what}: still accepted after {ANNOUNCED_WITHIN:?}"),
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn sessions_and_logouts_are_shared() {
    let (a, b) = pair(&[]).await;
    let session =
        a.client.register(&format!("two-{}@example.com", uuid_like()), "correct horse battery").await.unwrap();
    let on_a = a.client.with_token(&session.token);
    let on_b = b.client.with_token(&session.token);
    assert_eq!(on_b.me().await.unwrap().id, session.user.id, "a session made on A works on B");
    on_a.me().await.expect("and is held in A's memory now");
    on_b.logout().await.unwrap();
    assert_api_error(on_b.me().await, 401, "unauthorized:auth");
    refused_within_the_bound(&on_a, "a logout on B, on A").await;
}

#[tokio::test]
async fn a_password_change_or_a_deletion_on_one_ends_sessions_held_by_the_other() {
    let (a, b) = pair(&[]).await;
    let (ada, session) = a.user().await;
    let other_device =
        b.client.with_token(&b.client.login(&session.user.email, "correct horse battery").await.unwrap().token);
    other_device.me().await.expect("held in B's memory now");
    let change = alleato_sdk::api::UpdateUserRequest {
        password: Some("a brand new password".into()),
        current_password: Some("correct horse battery".into()),
        ..Default::default()
    };
    ada.update_me(&change).await.unwrap();
    refused_within_the_bound(&other_device, "a password change on A, on B").await;
    b.client.with_token(&session.token).me().await.expect("the session that changed it stays, on B too");

    let (bob, session) = b.user().await;
    let bob_on_a = a.client.with_token(&session.token);
    bob_on_a.me().await.expect("held in A's memory now");
    bob.delete_me().await.unwrap();
    refused_within_the_bound(&bob_on_a, "an account deleted on B, on A").await;
}

#[tokio::test]
async fn rate_limits_count_across_instances() {
    let (a, b) = pair(&[("ALLEATO_RATE_LIMIT__AUTH_PER_MINUTE", "4")]).await;
    for (i, app) in [&a, &b, &a, &b].into_iter().enumerate() {
        let err = app.client.login("nobody@example.com", "guess guess guess").await.unwrap_err();
        assert_eq!(err.status(), Some(401), "attempt {i}");
    }
    for app in [&a, &b] {
        assert_api_error(app.client.login("nobody@example.com", "guess guess guess").await, 429, "rate_limit:api");
    }
}

#[tokio::test]
async fn files_uploaded_through_one_download_through_the_other() {
    let (a, b) = pair(&[]).await;
    let (ada, session) = a.user().await;
    let file = ada.upload_file("shared.png", "image/png", PNG, None).await.unwrap();
    let ada_on_b = b.client.with_token(&session.token);
    assert_eq!(ada_on_b.file_content(file.id).await.unwrap(), ("image/png".to_owned(), PNG.into()));
}

/// A user's message sent to `a`, whose answer's first `events` are read there before the
/// connection drops; returns the same user signed in on `b`, the chat and the events read.
async fn started_on_a_then_signed_in_on_b(
    a: &Instance,
    b: &Instance,
    events: usize,
) -> (Client, ChatId, Vec<alleato_sdk::SseChunk>) {
    let (ada, session) = a.user().await;
    let chat = ChatId::new();
    let mut on_a = ada.send_text(chat, "Stream me across instances please").await.unwrap();
    let mut seen = Vec::new();
    while seen.len() < events {
        seen.push(on_a.next().await.unwrap().unwrap());
    }
    (b.client.with_token(&session.token), chat, seen)
}

#[tokio::test]
async fn a_generation_started_on_one_is_resumed_and_stopped_through_the_other() {
    let (a, b) = pair(&[("AI_MOCK_CHUNK_DELAY_MS", "20")]).await;
    let (ada_on_b, chat, seen) = started_on_a_then_signed_in_on_b(&a, &b, 5).await;
    let mut on_b = ada_on_b.resume(chat, seen.last().unwrap().id).await.unwrap().expect("resumable on B");
    let next = tokio::time::timeout(Duration::from_secs(5), on_b.next()).await.unwrap().unwrap().unwrap();
    assert_eq!(next.id, Some(seen.last().unwrap().id.unwrap() + 1), "B continues where A's client stopped");

    // Stop through B: the generation runs on A and hears it through Redis.
    assert!(ada_on_b.stop(chat).await.unwrap());
    let rest = tokio::time::timeout(Duration::from_secs(5), collect(on_b)).await.expect("the stream ends after a stop");
    assert!(rest.last().unwrap().is_done());
    let all: Vec<_> = seen.into_iter().chain(std::iter::once(next)).chain(rest).collect();
    let stored = alleato_e2e::wait_for_messages(&ada_on_b, chat, 2).await;
    let partial = stored[1].parts[0].text_content().unwrap();
    assert_eq!(partial, deltas(&all, "text"));
    assert!(partial.split_whitespace().count() < 40, "stopped early: {partial}");
}

/// On the Cloudflare stack over REST (D1 and Workers KV through Cloudflare's simulator), the
/// database names a generation at once but its stream reaches Workers KV only at the writer's
/// first flush, up to a second later. A reload that lands on the other instance in that second
/// waits for the stream (at most the bound `KvStreams` declares) and follows it.
#[tokio::test]
async fn a_resume_on_the_other_instance_in_an_answers_first_second_follows_it_on_the_cloudflare_stack() {
    let (a, b) = pair_on(cloudflare_env("e2e", &uuid_like()), &[("AI_MOCK_CHUNK_DELAY_MS", "20")]).await;
    let (ada_on_b, chat, seen) = started_on_a_then_signed_in_on_b(&a, &b, 3).await;
    let cursor = seen.last().unwrap().id;
    let on_b = ada_on_b.resume(chat, cursor).await.expect("B waits for the stream").expect("resumable on B");
    let rest = tokio::time::timeout(Duration::from_secs(30), collect(on_b)).await.expect("the answer ends");
    assert_eq!(rest.first().and_then(|c| c.id), Some(cursor.unwrap() + 1), "B continues after A's client");
    assert!(rest.last().unwrap().is_done());
    let all: Vec<_> = seen.into_iter().chain(rest).collect();
    let stored = alleato_e2e::wait_for_messages(&ada_on_b, chat, 2).await;
    assert_eq!(stored[1].parts[0].text_content().unwrap(), deltas(&all, "text"), "nothing lost on the way");
}
