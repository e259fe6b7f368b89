//! Switching backends service by service with the design's flags: every combination of
//! `USE_CLOUDFLARE_DATABASE`, `USE_CLOUDFLARE_STORAGE` and `USE_CLOUDFLARE_STREAMS` (`true`: the
//! Cloudflare service, here on its local stand-in; `false`: PostgreSQL, S3, Redis) starts and
//! serves the whole flow; and the order the design recommends for a move to the edge (storage,
//! then streams, then database) as restarts of one deployment, healthy after each step.

use alleato_e2e::{TestApp, collect, deltas, postgres_url, redis_url, s3_endpoint, test_config, uuid_like};
use alleato_sdk::api::ChatId;
use alleato_server::config::{Config, Secret};

/// A deployment with every traditional backend configured (so `false` has somewhere to go) and
/// the three flags as given; no Cloudflare credentials, so `true` means the local stand-ins.
fn flagged(mut config: Config, database: bool, storage: bool, streams: bool) -> Config {
    config.database.url = Some(Secret::new(postgres_url()));
    config.database.schema.get_or_insert_with(|| format!("switch_{}", uuid_like()));
    config.database.max_connections = 4;
    config.redis.url = Some(Secret::new(redis_url()));
    config.redis.prefix = format!("switch:{}:", uuid_like());
    config.storage.s3_bucket = Some("alleato-test".into());
    config.storage.s3_endpoint = Some(s3_endpoint());
    config.storage.s3_region = "auto".into();
    config.storage.s3_access_key_id = Some(Secret::new("AKTEST"));
    config.storage.s3_secret_access_key = Some(Secret::new("SKTEST"));
    config.storage.s3_prefix.get_or_insert_with(|| format!("switch-{}", uuid_like()));
    config.cloudflare.use_cloudflare = None;
    config.cloudflare.use_cloudflare_database = Some(database);
    config.cloudflare.use_cloudflare_storage = Some(storage);
    config.cloudflare.use_cloudflare_streams = Some(streams);
    config
}

/// The backends the server says it runs, by port, as the admin sees them (the public view
/// names the backend only, not where it keeps its data).
async fn backends(app: &TestApp) -> Vec<(String, String)> {
    let health: serde_json::Value = app
        .client
        .request(reqwest::Method::GET, "/health")
        .header("x-api-key", "test-admin-key")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let adapters = health["adapters"].as_array().unwrap();
    adapters
        .iter()
        .map(|a| (a["port"].as_str().unwrap().to_owned(), a["backend"].as_str().unwrap().to_owned()))
        .collect()
}

fn backend<'a>(backends: &'a [(String, String)], port: &str) -> &'a str {
    &backends.iter().find(|(p, _)| p == port).unwrap().1
}

/// Register, chat (streamed, then resumed from a cursor), upload and download.
async fn smoke(app: &TestApp) {
    let ready = app.client.ready().await.unwrap();
    assert!(ready.ready, "{:?}", ready.checks);
    let (ada, _) = app.user().await;
    let chat = ChatId::new();
    let streamed = collect(ada.send_text(chat, "Say something about switching").await.unwrap()).await;
    assert!(streamed.last().unwrap().is_done());
    let replay = collect(ada.resume(chat, Some(2)).await.unwrap().expect("replayable")).await;
    assert_eq!(replay, streamed[2..].to_vec());
    let stored = alleato_e2e::wait_for_messages(&ada, chat, 2).await;
    assert_eq!(stored[1].parts[0].text_content().unwrap(), deltas(&streamed, "text"));
    let file = ada.upload_file("a.png", "image/png", alleato_e2e::PNG, Some(chat)).await.unwrap();
    assert_eq!(ada.file_content(file.id).await.unwrap().1.as_ref(), alleato_e2e::PNG);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_combination_of_the_three_flags_serves_the_whole_flow() {
    for bits in 0..8u8 {
        let (database, storage, streams) = (bits & 1 != 0, bits & 2 != 0, bits & 4 != 0);
        let dir = tempfile::tempdir().unwrap();
        let config = flagged(test_config(dir.path().to_path_buf()), database, storage, streams);
        let app = TestApp::spawn_with(config, Some(dir)).await;
        let running = backends(&app).await;
        let expect =
            |flag: bool, edge: &str, traditional: &str| if flag { edge.to_owned() } else { traditional.to_owned() };
        assert!(backend(&running, "database").starts_with(&expect(database, "d1 (local", "postgres")), "{running:?}");
        assert!(backend(&running, "storage").starts_with(&expect(storage, "r2 (local", "s3")), "{running:?}");
        assert!(
            backend(&running, "streams").starts_with(&expect(streams, "workers-kv (local", "redis")),
            "{running:?}"
        );
        smoke(&app).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_recommended_order_storage_then_streams_then_database_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let base = test_config(dir.path().to_path_buf());
    let mut app = TestApp::spawn_with(flagged(base.clone(), false, false, false), Some(dir)).await;
    smoke(&app).await;
    for (step, (database, storage, streams)) in
        [(false, true, false), (false, true, true), (true, true, true)].into_iter().enumerate()
    {
        // Restart the same deployment (same data directory, schema, prefixes) with one more
        // service on the edge.
        app.config = flagged(app.config.clone(), database, storage, streams);
        app = app.restart().await;
        let running = backends(&app).await;
        assert!(backend(&running, "storage").starts_with("r2 (local"), "step {step}: {running:?}");
        assert_eq!(backend(&running, "streams").starts_with("workers-kv (local"), streams, "step {step}: {running:?}");
        assert_eq!(backend(&running, "database").starts_with("d1 (local"), database, "step {step}: {running:?}");
        smoke(&app).await;
    }
}
