//! What every outage test checks: a prompt 503 with a stable code and no internals, `/ready`
//! naming what is down, and recovery without a restart.

use std::future::Future;
use std::time::{Duration, Instant};

use alleato_sdk::SdkError;

use crate::TestApp;

/// Asserts a 503 with this code, answered within `bound`, whose message names none of
/// `internals` (connection strings, hosts, tokens).
pub async fn assert_unavailable<T: std::fmt::Debug>(
    call: impl Future<Output = Result<T, SdkError>>,
    code: &str,
    bound: Duration,
    internals: &[&str],
) {
    let started = Instant::now();
    let result = call.await;
    let elapsed = started.elapsed();
    match result {
        Err(SdkError::Api { status: 503, code: c, message }) => {
            assert_eq!(c, code, "{message}");
            assert!(internals.iter().all(|secret| !message.contains(secret)), "no internals: {message}");
        }
        other => panic!("expected 503 {code}, got {other:?}"),
    }
    assert!(elapsed < bound, "answered in {elapsed:?}, more than {bound:?}");
}

/// Asserts `/ready` answers 503 and marks exactly the ports in `down` as failing.
pub async fn ready_reports_down(app: &TestApp, down: &[&str]) {
    let response = app.client.request(reqwest::Method::GET, "/ready").send().await.unwrap();
    assert_eq!(response.status(), 503);
    let body: serde_json::Value = response.json().await.unwrap();
    for check in body["checks"].as_array().unwrap() {
        let port = check["port"].as_str().unwrap();
        assert_eq!(check["ok"], !down.contains(&port), "{check}");
    }
}

/// Polls `call` until it succeeds, within 30 s: the server must recover on its own. Meanwhile
/// only the statuses in `allowed` (or no answer at all) may come back.
pub async fn recovers<T, F: Future<Output = Result<T, SdkError>>>(allowed: &[u16], mut call: impl FnMut() -> F) -> T {
    let started = Instant::now();
    loop {
        match call().await {
            Ok(value) => return value,
            Err(err) if started.elapsed() < Duration::from_secs(30) => {
                assert!(err.status().is_none_or(|s| allowed.contains(&s)), "only {allowed:?} while recovering: {err}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(err) => panic!("no recovery within 30 s: {err}"),
        }
    }
}
