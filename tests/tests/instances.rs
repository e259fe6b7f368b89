//! Two server instances (in this test process, each with its own pools and connections) sharing
//! PostgreSQL, Redis and S3, as instances behind a load balancer do: sessions, logouts, rate
//! limits, files and generations cross between them.

use std::time::Duration;

use alleato_e2e::{PNG, TestApp, assert_api_error, collect, deltas, postgres_url, redis_url, test_config, uuid_like};
use alleato_sdk::api::ChatId;
use alleato_server::config::Secret;
use futures::StreamExt;

async fn pair(configure: impl Fn(&mut alleato_server::Config)) -> (TestApp, TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path().to_path_buf());
    config.database.url = Some(Secret::new(postgres_url()));
    config.database.schema = Some(format!("e2e_{}", uuid_like()));
    config.database.max_connections = 4;
    config.redis.url = Some(Secret::new(redis_url()));
    config.redis.prefix = format!("e2e:{}:", uuid_like());
    config.auth.jwt_secret = Some(Secret::new("shared-secret-for-both-instances-0123456789"));
    config.storage.s3_bucket = Some("alleato-test".into());
    config.storage.s3_endpoint = Some(alleato_e2e::s3_endpoint());
    config.storage.s3_region = "auto".into();
    config.storage.s3_access_key_id = Some(Secret::new("AKTEST"));
    config.storage.s3_secret_access_key = Some(Secret::new("SKTEST"));
    config.storage.s3_prefix = Some(format!("e2e-{}", uuid_like()));
    configure(&mut config);
    // Separate data directories: nothing may pass through the local disk.
    let other = tempfile::tempdir().unwrap();
    let mut config_b = config.clone();
    config_b.data_dir = other.path().to_path_buf();
    let a = TestApp::spawn_with(config, Some(dir)).await;
    let b = TestApp::spawn_with(config_b, Some(other)).await;
    assert_ne!(a.server.addr, b.server.addr);
    (a, b)
}

#[tokio::test]
async fn sessions_and_logouts_are_shared() {
    let (a, b) = pair(|_| {}).await;
    let session =
        a.client.register(&format!("two-{}@example.com", uuid_like()), "correct horse battery").await.unwrap();
    let on_a = a.client.with_token(&session.token);
    let on_b = b.client.with_token(&session.token);
    assert_eq!(on_b.me().await.unwrap().id, session.user.id, "a session made on A works on B");
    on_b.logout().await.unwrap();
    assert_api_error(on_a.me().await, 401, "unauthorized:auth");
}

#[tokio::test]
async fn rate_limits_count_across_instances() {
    let (a, b) = pair(|c| c.rate_limit.auth_per_minute = 4).await;
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
    let (a, b) = pair(|_| {}).await;
    let (ada, session) = a.user().await;
    let file = ada.upload_file("shared.png", "image/png", PNG, None).await.unwrap();
    let ada_on_b = b.client.with_token(&session.token);
    assert_eq!(ada_on_b.file_content(file.id).await.unwrap(), ("image/png".to_owned(), PNG.into()));
}

#[tokio::test]
async fn a_generation_started_on_one_is_resumed_and_stopped_through_the_other() {
    let (a, b) = pair(|c| c.ai.mock_chunk_delay_ms = 20).await;
    let (ada, session) = a.user().await;
    let ada_on_b = b.client.with_token(&session.token);
    let chat = ChatId::new();

    let mut on_a = ada.send_text(chat, "Stream me across instances please").await.unwrap();
    let mut seen = Vec::new();
    while seen.len() < 5 {
        seen.push(on_a.next().await.unwrap().unwrap());
    }
    drop(on_a);
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
