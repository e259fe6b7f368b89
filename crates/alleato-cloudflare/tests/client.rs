//! What Cloudflare's simulator cannot show: `429` with `retry-after`, `5xx`, an answer that is
//! not the envelope, a timeout, and the request budget; each against a local HTTP server that
//! answers as Cloudflare's API documents it (an envelope, `retry-after` in seconds).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use alleato_cloudflare::{ApiError, CloudflareClient, CloudflareSettings};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::json;

/// Serves `answers` in turn (the last one again once they run out); counts the requests.
async fn fake(answers: Vec<(u16, Option<&'static str>, &'static str, u64)>) -> (String, Arc<AtomicUsize>) {
    let seen = Arc::new(AtomicUsize::new(0));
    let answers = Arc::new(answers);
    let app = axum::Router::new().fallback({
        let (seen, answers) = (seen.clone(), answers.clone());
        move || {
            let (seen, answers) = (seen.clone(), answers.clone());
            async move {
                let n = seen.fetch_add(1, Ordering::SeqCst).min(answers.len() - 1);
                let (status, retry_after, body, delay_ms) = answers[n];
                tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                let mut headers = HeaderMap::new();
                if let Some(after) = retry_after {
                    headers.insert("retry-after", after.parse().unwrap());
                }
                (StatusCode::from_u16(status).unwrap(), headers, body).into_response()
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/client/v4"), seen)
}

const OK: &str = r#"{"success":true,"errors":[],"messages":[],"result":[1]}"#;
const LIMITED: &str = r#"{"success":false,"errors":[{"code":971,"message":"Please wait and consider throttling your request speed"}],"messages":[],"result":null}"#;

fn client(url: String, tune: impl FnOnce(&mut CloudflareSettings)) -> CloudflareClient {
    let mut settings = CloudflareSettings::new(url, "acct", "token");
    tune(&mut settings);
    CloudflareClient::new(settings).unwrap()
}

async fn call(client: &CloudflareClient) -> Result<Vec<u64>, ApiError> {
    client.post::<Vec<u64>>("d1/database/x/raw", &json!({})).await
}

#[tokio::test]
async fn a_429_is_retried_after_its_retry_after() {
    let (url, seen) = fake(vec![(429, Some("1"), LIMITED, 0), (200, None, OK, 0)]).await;
    let client = client(url, |_| {});
    let started = Instant::now();
    assert_eq!(call(&client).await.unwrap(), vec![1]);
    assert!(started.elapsed() >= Duration::from_secs(1), "waited as asked: {:?}", started.elapsed());
    assert_eq!((seen.load(Ordering::SeqCst), client.requests_sent()), (2, 2));
}

#[tokio::test]
async fn a_long_retry_after_fails_at_once_as_unavailable() {
    let (url, seen) = fake(vec![(429, Some("300"), LIMITED, 0)]).await;
    let started = Instant::now();
    let err = call(&client(url, |_| {})).await.unwrap_err();
    assert!(matches!(&err, ApiError::Unavailable(why) if why.contains("429")), "{err}");
    assert!(started.elapsed() < Duration::from_secs(1), "no five-minute wait inside a request");
    assert_eq!(seen.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn server_errors_are_retried_a_bounded_number_of_times_when_a_retry_is_harmless() {
    use alleato_cloudflare::{Method, Request};
    let (url, seen) = fake(vec![(503, None, "upstream down", 0)]).await;
    let client = client(url, |s| s.retries = 2);
    let read = Request::new(Method::POST, "d1/database/x/raw").idempotent(true);
    let err = client.call::<Vec<u64>>(read).await.unwrap_err();
    assert!(matches!(err, ApiError::Unavailable(_)), "{err}");
    assert_eq!(seen.load(Ordering::SeqCst), 3, "one try and two retries");
    let err = call(&client).await.unwrap_err();
    assert!(matches!(err, ApiError::Unavailable(_)), "{err}");
    assert_eq!(seen.load(Ordering::SeqCst), 4, "a write after a 5xx may have been applied: not sent again");
}

#[tokio::test]
async fn an_unreachable_api_is_retried_then_unavailable_at_once() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let client = client(format!("http://127.0.0.1:{port}/client/v4"), |s| s.retries = 2);
    let started = Instant::now();
    let err = call(&client).await.unwrap_err();
    assert!(matches!(&err, ApiError::Unavailable(why) if why.contains("connect")), "{err}");
    assert_eq!(client.requests_sent(), 3, "never sent, so tried again even for a write");
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
}

#[tokio::test]
async fn an_answer_that_is_not_the_envelope_is_malformed() {
    let (url, _) = fake(vec![(200, None, "<html>maintenance</html>", 0)]).await;
    assert!(matches!(call(&client(url, |_| {})).await, Err(ApiError::Malformed(_))));
    let (url, _) = fake(vec![(200, None, r#"{"success":true,"errors":[],"result":null}"#, 0)]).await;
    assert!(matches!(call(&client(url, |_| {})).await, Err(ApiError::Malformed(_))));
}

#[tokio::test]
async fn a_refusal_keeps_cloudflares_code_and_message() {
    let body =
        r#"{"success":false,"errors":[{"code":10000,"message":"Authentication error"}],"messages":[],"result":null}"#;
    let (url, seen) = fake(vec![(403, None, body, 0)]).await;
    let err = call(&client(url, |_| {})).await.unwrap_err();
    assert_eq!(err, ApiError::Rejected { status: 403, code: Some(10000), message: "Authentication error".into() });
    assert_eq!(seen.load(Ordering::SeqCst), 1, "a refusal is not retried");
}

#[tokio::test]
async fn a_slow_answer_times_out_as_unavailable() {
    let (url, seen) = fake(vec![(200, None, OK, 3000)]).await;
    let started = Instant::now();
    let err = call(&client(url, |s| {
        s.timeout = Duration::from_millis(300);
        s.retries = 2;
    }))
    .await
    .unwrap_err();
    assert!(matches!(err, ApiError::Unavailable(_)), "{err}");
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    assert_eq!(seen.load(Ordering::SeqCst), 1, "a timeout is not retried: the caller has waited enough");
}

#[tokio::test]
async fn the_budget_refuses_before_cloudflare_would_block_the_account() {
    let (url, seen) = fake(vec![(200, None, OK, 0)]).await;
    // 10 per 5 minutes: a bucket of one, refilled every 30 s.
    let client = client(url, |s| s.requests_per_5_minutes = 10);
    assert!(call(&client).await.is_ok());
    let err = call(&client).await.unwrap_err();
    assert!(matches!(&err, ApiError::Unavailable(why) if why.contains("budget")), "{err}");
    assert_eq!(seen.load(Ordering::SeqCst), 1, "the refused request was never sent");
}
