//! Outages of Cloudflare's API on the Cloudflare stack (D1 and Workers KV through Cloudflare's
//! simulator): unreachable, a storm of `429`s, a storm of `5xx`s, and this process's own request
//! budget spent. Each answers 503 with a stable code within a bounded time, `/ready` names what
//! is down, and the server recovers by itself. The server reaches the simulator through a proxy
//! this test controls: it pipes connections to the simulator, or to a server that answers every
//! request as Cloudflare's API does when it limits or fails (the envelope, `retry-after` in
//! seconds: Cloudflare API docs, "API fundamentals" and "Rate limits"), or refuses them.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alleato_e2e::outage::{assert_unavailable, ready_reports_down, recovers};
use alleato_e2e::{TestApp, test_config};
use alleato_sdk::SdkError;
use alleato_server::config::Secret;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Up,
    /// Every request answered `429` with `retry-after: 1`.
    Limited,
    /// Every request answered `502`.
    Failing,
    /// Connections refused.
    Unreachable,
}

/// A TCP proxy in front of the simulator whose behaviour the test switches.
struct Proxy {
    port: u16,
    mode: Arc<Mutex<Mode>>,
    task: Option<tokio::task::JoinHandle<()>>,
    storms: (u16, u16),
}

impl Proxy {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let storms = (storm(429).await, storm(502).await);
        let mut proxy = Self { port, mode: Arc::new(Mutex::new(Mode::Up)), task: None, storms };
        proxy.serve(listener);
        proxy
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/client/v4", self.port)
    }

    fn serve(&mut self, listener: TcpListener) {
        let upstream: u16 = alleato_e2e::cf_url()
            .trim_start_matches("http://127.0.0.1:")
            .split('/')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("the simulator on 127.0.0.1");
        let (mode, storms) = (self.mode.clone(), self.storms);
        self.task = Some(tokio::spawn(async move {
            // Aborting this task drops the connections too: pooled ones must reconnect.
            let mut connections = JoinSet::new();
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else { return };
                let to = match *mode.lock().unwrap() {
                    Mode::Up => upstream,
                    Mode::Limited => storms.0,
                    Mode::Failing => storms.1,
                    Mode::Unreachable => continue,
                };
                connections.spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(("127.0.0.1", to)).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        }));
    }

    /// Switches the mode and closes every open connection (and, when unreachable, the port).
    async fn set(&mut self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
        if mode != Mode::Unreachable {
            let listener = TcpListener::bind(("127.0.0.1", self.port)).await.unwrap();
            self.serve(listener);
        }
    }
}

/// A server that answers every request with `status` and Cloudflare's error envelope.
async fn storm(status: u16) -> u16 {
    use axum::http::StatusCode;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = axum::Router::new().fallback(move || async move {
        let body = r#"{"success":false,"errors":[{"code":971,"message":"Please wait and consider throttling your request speed"}],"messages":[],"result":null}"#;
        (StatusCode::from_u16(status).unwrap(), [("retry-after", "1"), ("content-type", "application/json")], body)
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    port
}

fn config_through(proxy: &Proxy, dir: &std::path::Path) -> alleato_server::Config {
    let mut config = test_config(dir.to_path_buf());
    config.database.url = None;
    config.redis.url = None;
    config.storage.s3_bucket = None;
    let cf = &mut config.cloudflare;
    cf.use_cloudflare = Some(true);
    cf.api_base_url = proxy.url();
    cf.account_id = Some("faults".into());
    cf.api_token = Some(Secret::new("faults-token"));
    cf.d1_database_id = Some(alleato_e2e::uuid_like());
    cf.kv_namespace_id = Some("faults".into());
    cf.api_requests_per_5_minutes = 1_000_000;
    config
}

/// What an outage's message must not show.
const PRIVATE: &[&str] = &["faults-token", "127.0.0.1"];

const CLOUDFLARE_PORTS: [&str; 4] = ["database", "key-value", "counters", "streams"];

#[tokio::test]
async fn cloudflare_unreachable_limiting_or_failing_is_a_prompt_503_and_the_server_recovers() {
    let mut proxy = Proxy::start().await;
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::spawn_with(config_through(&proxy, dir.path()), Some(dir)).await;
    let (ada, session) = app.user().await;
    let chat = ada.create_chat(&Default::default()).await.unwrap();
    let page = alleato_sdk::ListChats::default();

    for (mode, bound) in [
        (Mode::Unreachable, Duration::from_secs(3)),
        // Two retries, each after the `retry-after` second.
        (Mode::Limited, Duration::from_secs(5)),
        (Mode::Failing, Duration::from_secs(3)),
    ] {
        proxy.set(mode).await;
        assert_unavailable(ada.list_chats(&page), "unavailable:database", bound, PRIVATE).await;
        assert_unavailable(
            app.client.register(&format!("{}@example.com", alleato_e2e::uuid_like()), "correct horse battery"),
            "unavailable:database",
            bound,
            PRIVATE,
        )
        .await;
        // The session and the user were read before: this instance still knows them.
        assert_eq!(ada.me().await.unwrap().id, session.user.id, "{mode:?}: a cached session needs no API call");
        ready_reports_down(&app, &CLOUDFLARE_PORTS).await;

        proxy.set(Mode::Up).await;
        let chats = recovers(&[503], || ada.list_chats(&page)).await;
        assert_eq!(chats.chats[0].id, chat.id, "{mode:?}: the data is all there");
        assert!(app.client.ready().await.unwrap().ready);
    }
}

#[tokio::test]
async fn a_spent_request_budget_is_a_prompt_503_not_a_blocked_account() {
    let proxy = Proxy::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_through(&proxy, dir.path());
    // 120 per 5 minutes: a bucket of 12, refilled at one every 2.5 s, longer than a request
    // waits for one (2 s).
    config.cloudflare.api_requests_per_5_minutes = 120;
    let app = TestApp::spawn_with(config, Some(dir)).await;
    let (ada, _) = app.user().await;
    let page = alleato_sdk::ListChats::default();
    let mut refused = None;
    for _ in 0..30 {
        let started = Instant::now();
        match ada.list_chats(&page).await {
            Ok(_) => continue,
            Err(SdkError::Api { status: 503, code, .. }) => {
                refused = Some((code, started.elapsed()));
                break;
            }
            Err(other) => panic!("{other}"),
        }
    }
    let (code, took) = refused.expect("the budget runs out");
    assert_eq!(code, "unavailable:database");
    assert!(took < Duration::from_secs(3), "refused after at most the budget's 2 s wait: {took:?}");
}
