//! One client of Cloudflare's REST API (or of the proxy Worker that serves the same paths).
//!
//! Every response is the documented envelope `{"success", "errors": [{"code", "message"}],
//! "messages", "result"}` (Cloudflare API docs, "API fundamentals"; examples in
//! `shared/reference/cloudflare-and-test-services.md` §1.3). Failures map onto what a caller can
//! do about them: try later ([`ApiError::Unavailable`]: unreachable, timeouts, `429`, `5xx`,
//! the budget spent), fix the request ([`ApiError::Rejected`]: a `4xx` with its errors), or
//! nothing ([`ApiError::Malformed`]: an answer that is not the envelope).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::Budget;

/// Where the API is and who calls it.
#[derive(Debug, Clone)]
pub struct CloudflareSettings {
    /// `https://api.cloudflare.com/client/v4`, or the proxy Worker's URL.
    pub base_url: String,
    pub account_id: String,
    pub api_token: String,
    /// The longest one request may take, retries excluded.
    pub timeout: Duration,
    /// Requests allowed per 5 minutes, for the whole process (Cloudflare's API: 1,200; a proxy
    /// Worker is bound by Workers limits instead, so it may be set far higher).
    pub requests_per_5_minutes: u32,
    /// Retries of a `429` or `5xx` answer (or a failed connection) before giving up.
    pub retries: u32,
}

impl CloudflareSettings {
    pub fn new(base_url: impl Into<String>, account_id: impl Into<String>, api_token: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            account_id: account_id.into(),
            api_token: api_token.into(),
            timeout: Duration::from_secs(10),
            requests_per_5_minutes: Budget::CLOUDFLARE_API_PER_5_MINUTES,
            retries: 2,
        }
    }
}

/// Why a call failed; see the module documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    Unavailable(String),
    Rejected { status: u16, code: Option<u64>, message: String },
    Malformed(String),
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::Unavailable(why) => write!(f, "Cloudflare is unavailable: {why}"),
            ApiError::Rejected { status, code, message } => match code {
                Some(code) => write!(f, "Cloudflare refused the request ({status}, code {code}): {message}"),
                None => write!(f, "Cloudflare refused the request ({status}): {message}"),
            },
            ApiError::Malformed(why) => write!(f, "Cloudflare's answer is not the documented envelope: {why}"),
        }
    }
}

impl std::error::Error for ApiError {}

#[derive(Deserialize)]
struct Envelope<T> {
    success: bool,
    #[serde(default)]
    errors: Vec<EnvelopeError>,
    result: Option<T>,
}

#[derive(Deserialize)]
struct EnvelopeError {
    code: Option<u64>,
    message: String,
}

/// The longest `retry-after` worth waiting inside a request; a longer one fails it at once.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(2);

/// A client shared by every Cloudflare adapter of the process (cheap to clone).
#[derive(Clone, Debug)]
pub struct CloudflareClient {
    http: reqwest::Client,
    settings: Arc<CloudflareSettings>,
    budget: Arc<Budget>,
    requests: Arc<AtomicU64>,
}

impl CloudflareClient {
    pub fn new(settings: CloudflareSettings) -> Result<Self, ApiError> {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(5)))
            .build()
            .map_err(|e| ApiError::Unavailable(format!("building the HTTP client: {e}")))?;
        let budget = Budget::new(settings.requests_per_5_minutes, Duration::from_secs(300), Duration::from_secs(2));
        Ok(Self { http, settings: Arc::new(settings), budget: Arc::new(budget), requests: Arc::default() })
    }

    pub fn settings(&self) -> &CloudflareSettings {
        &self.settings
    }

    /// Requests sent so far (retries included): what the budget and the benchmark count.
    pub fn requests_sent(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// `POST {base}/accounts/{account}/{path}` with a JSON body; the envelope's `result`.
    pub async fn post<T: DeserializeOwned>(&self, path: &str, body: &serde_json::Value) -> Result<T, ApiError> {
        let url = format!(
            "{}/accounts/{}/{}",
            self.settings.base_url.trim_end_matches('/'),
            self.settings.account_id,
            path.trim_start_matches('/')
        );
        let mut attempt = 0;
        loop {
            let outcome = self.send_once(&url, body).await;
            let retry_in = match &outcome {
                Err(Failure::Retryable { after, .. }) if attempt < self.settings.retries => {
                    Some(after.unwrap_or(Duration::from_millis(100 << attempt)))
                }
                _ => None,
            };
            match (outcome, retry_in) {
                (Ok(result), _) => return Ok(result),
                (Err(_), Some(wait)) if wait <= MAX_RETRY_AFTER => {
                    attempt += 1;
                    tokio::time::sleep(wait).await;
                }
                (Err(Failure::Retryable { why, .. }), _) => return Err(ApiError::Unavailable(why)),
                (Err(Failure::Final(err)), _) => return Err(err),
            }
        }
    }

    async fn send_once<T: DeserializeOwned>(&self, url: &str, body: &serde_json::Value) -> Result<T, Failure> {
        if !self.budget.take().await {
            return Err(Failure::Final(ApiError::Unavailable(
                "this process's Cloudflare API budget is spent; try again shortly".into(),
            )));
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        let response = self
            .http
            .post(url)
            .bearer_auth(&self.settings.api_token)
            .json(body)
            .send()
            .await
            .map_err(|e| Failure::Retryable { why: format!("request failed: {e}"), after: None })?;
        let status = response.status();
        let after = retry_after(&response);
        let text =
            response.text().await.map_err(|e| Failure::Retryable { why: format!("reading the answer: {e}"), after })?;
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            let why = format!("HTTP {status}{}", first_error(&text).map(|e| format!(": {e}")).unwrap_or_default());
            return Err(Failure::Retryable { why, after });
        }
        let envelope: Envelope<T> = serde_json::from_str(&text)
            .map_err(|e| Failure::Final(ApiError::Malformed(format!("HTTP {status}: {e}"))))?;
        match (envelope.success && status.is_success(), envelope.result) {
            (true, Some(result)) => Ok(result),
            (true, None) => Err(Failure::Final(ApiError::Malformed("success without a result".into()))),
            (false, _) => {
                let first = envelope.errors.into_iter().next();
                Err(Failure::Final(ApiError::Rejected {
                    status: status.as_u16(),
                    code: first.as_ref().and_then(|e| e.code),
                    message: first.map_or_else(|| "no error given".into(), |e| e.message),
                }))
            }
        }
    }
}

enum Failure {
    Retryable { why: String, after: Option<Duration> },
    Final(ApiError),
}

/// `retry-after` in seconds (the form Cloudflare sends).
fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let value = response.headers().get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

fn first_error(text: &str) -> Option<String> {
    let envelope: Envelope<serde_json::Value> = serde_json::from_str(text).ok()?;
    envelope.errors.into_iter().next().map(|e| e.message)
}
