//! One client of Cloudflare's REST API (or of the proxy Worker that serves the same paths).
//!
//! Every response is the documented envelope `{"success", "errors": [{"code", "message"}],
//! "messages", "result"}` (Cloudflare API docs, "API fundamentals"; examples in
//! `shared/reference/cloudflare-and-test-services.md` §1.3). Failures map onto what a caller can
//! do about them: try later ([`ApiError::Unavailable`]: unreachable, timeouts, `429`, `5xx`,
//! the budget spent), fix the request ([`ApiError::Rejected`]: a `4xx` with its errors), or
//! nothing ([`ApiError::Malformed`]: an answer that is not the envelope).
//!
//! Retries are bounded ([`CloudflareSettings::retries`]) and only where sending again is safe:
//! a failed connection (nothing was sent), a `429` (nothing was done; after its `retry-after`,
//! if that is at most 2 s), and a `5xx` or a connection lost mid-way only for an idempotent
//! request ([`Request::idempotent`]: a write to D1 may have been applied). A timeout is never
//! retried, so a request fails within about its timeout.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub use reqwest::Method;
use reqwest::StatusCode;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::Budget;

/// Where the API is and who calls it.
#[derive(Debug, Clone)]
pub struct CloudflareSettings {
    /// `https://api.cloudflare.com/client/v4`, or the proxy Worker's URL.
    pub base_url: String,
    /// The account the D1 database and the KV namespace belong to.
    pub account_id: String,
    /// An API token with D1 and Workers KV edit rights (sent as a bearer token).
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
    /// Settings with a 10 s timeout, Cloudflare's account-wide budget and two retries.
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
    /// No usable answer (a timeout, a refused connection, a `429` or `5xx` after the retries):
    /// worth trying again later.
    Unavailable(String),
    /// Cloudflare answered with an error: the HTTP status, the first error's code and message.
    Rejected {
        /// The HTTP status.
        status: u16,
        /// Cloudflare's error code, when it gave one.
        code: Option<u64>,
        /// Cloudflare's message.
        message: String,
    },
    /// An answer that is not the documented envelope.
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
    /// A listing's page information: `cursor` names the next page, empty on the last.
    #[serde(default)]
    result_info: Option<ResultInfo>,
}

#[derive(Deserialize)]
struct ResultInfo {
    #[serde(default)]
    cursor: Option<String>,
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
    /// A client for `settings`; fails only when the HTTP client cannot be built.
    pub fn new(settings: CloudflareSettings) -> Result<Self, ApiError> {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(5)))
            .build()
            .map_err(|e| ApiError::Unavailable(format!("building the HTTP client: {e}")))?;
        let budget = Budget::new(settings.requests_per_5_minutes, Duration::from_secs(300), Duration::from_secs(2));
        Ok(Self { http, settings: Arc::new(settings), budget: Arc::new(budget), requests: Arc::default() })
    }

    /// The settings it was made with.
    pub fn settings(&self) -> &CloudflareSettings {
        &self.settings
    }

    /// Requests sent so far (retries included): what the budget and the benchmark count.
    pub fn requests_sent(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// `POST {base}/accounts/{account}/{path}` with a JSON body; the envelope's `result`. Not
    /// retried after a `5xx` (see [`Request::idempotent`]).
    pub async fn post<T: DeserializeOwned>(&self, path: &str, body: &serde_json::Value) -> Result<T, ApiError> {
        self.call(Request::new(Method::POST, path).json(body)).await?.require()
    }

    /// Sends `request` (budgeted, retried as the module documentation says) and reads the
    /// answer as the envelope; a success may carry no `result` (Workers KV's writes).
    pub async fn call<T: DeserializeOwned>(&self, request: Request<'_>) -> Result<Answer<T>, ApiError> {
        let (status, text) = self.send(&request).await?;
        let envelope: Envelope<T> =
            serde_json::from_slice(&text).map_err(|e| ApiError::Malformed(format!("HTTP {status}: {e}")))?;
        if envelope.success && status.is_success() {
            return Ok(Answer(envelope.result));
        }
        Err(rejected(status, envelope.errors))
    }

    /// Sends a listing's `request` and reads one page: the `result` array, and the cursor of
    /// the next page (`result_info.cursor`; `None` on the last page, where it is empty).
    pub async fn list<T: DeserializeOwned>(&self, request: Request<'_>) -> Result<(Vec<T>, Option<String>), ApiError> {
        let (status, text) = self.send(&request).await?;
        let envelope: Envelope<Vec<T>> =
            serde_json::from_slice(&text).map_err(|e| ApiError::Malformed(format!("HTTP {status}: {e}")))?;
        if envelope.success && status.is_success() {
            let next = envelope.result_info.and_then(|info| info.cursor).filter(|c| !c.is_empty());
            return Ok((envelope.result.unwrap_or_default(), next));
        }
        Err(rejected(status, envelope.errors))
    }

    /// Sends `request` and returns the answer's raw bytes, for the endpoints that answer a
    /// success with bytes rather than an envelope (Workers KV's `GET /values/{key}`); `None`
    /// on a `404`. Other failures are read as the envelope.
    pub async fn bytes(&self, request: Request<'_>) -> Result<Option<Vec<u8>>, ApiError> {
        let (status, body) = self.send(&request).await?;
        if status.is_success() {
            return Ok(Some(body));
        }
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let envelope: Envelope<serde_json::Value> =
            serde_json::from_slice(&body).map_err(|e| ApiError::Malformed(format!("HTTP {status}: {e}")))?;
        Err(rejected(status, envelope.errors))
    }

    /// The request with its retries: the status and body of the first answer that is neither
    /// a `429` nor a `5xx`.
    async fn send(&self, request: &Request<'_>) -> Result<(StatusCode, Vec<u8>), ApiError> {
        let url = self.url(request)?;
        let mut attempt = 0;
        loop {
            match self.send_once(url.clone(), request).await {
                Ok(answer) => return Ok(answer),
                Err(Failure::Final(err)) => return Err(err),
                Err(Failure::Retryable { why, after }) => {
                    let wait = after.unwrap_or(Duration::from_millis(100 << attempt));
                    if attempt >= self.settings.retries || wait > MAX_RETRY_AFTER {
                        return Err(ApiError::Unavailable(why));
                    }
                    attempt += 1;
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// `{base}/accounts/{account}/{path segments...}`, each segment percent-encoded (Workers KV
    /// key names go in the path), with the query.
    fn url(&self, request: &Request<'_>) -> Result<reqwest::Url, ApiError> {
        let mut url = reqwest::Url::parse(self.settings.base_url.trim_end_matches('/'))
            .map_err(|e| ApiError::Malformed(format!("the API base URL: {e}")))?;
        {
            let mut segments = url
                .path_segments_mut()
                .map_err(|()| ApiError::Malformed("the API base URL cannot be a base".into()))?;
            segments.pop_if_empty().extend(["accounts", &self.settings.account_id]);
            segments.extend(request.path.trim_matches('/').split('/'));
            if let Some(last) = request.key {
                segments.push(last);
            }
        }
        if !request.query.is_empty() {
            url.query_pairs_mut().extend_pairs(request.query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        Ok(url)
    }

    async fn send_once(&self, url: reqwest::Url, request: &Request<'_>) -> Result<(StatusCode, Vec<u8>), Failure> {
        if !self.budget.take().await {
            return Err(Failure::Final(ApiError::Unavailable(
                "this process's Cloudflare API budget is spent; try again shortly".into(),
            )));
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        let builder = self.http.request(request.method.clone(), url).bearer_auth(&self.settings.api_token);
        let builder = match &request.body {
            Body::None => builder,
            Body::Json(json) => builder.json(json),
            Body::Bytes(bytes) => {
                builder.header(reqwest::header::CONTENT_TYPE, "application/octet-stream").body(bytes.to_vec())
            }
        };
        // What is retried: a request that never left (no connection), one refused unprocessed
        // (`429`), and, when sending it twice does no harm, one that failed on the way or with
        // a `5xx`. A timeout is not retried: the caller has waited long enough.
        let unsure = |why: String, after| match request.idempotent {
            true => Failure::Retryable { why, after },
            false => Failure::Final(ApiError::Unavailable(why)),
        };
        let response = builder.send().await.map_err(|e| match (e.is_connect(), e.is_timeout()) {
            (true, _) => Failure::Retryable { why: format!("could not connect: {e}"), after: None },
            (_, true) => Failure::Final(ApiError::Unavailable(format!("no answer in time: {e}"))),
            _ => unsure(format!("request failed: {e}"), None),
        })?;
        let status = response.status();
        let after = retry_after(&response);
        let body = response.bytes().await.map_err(|e| match e.is_timeout() {
            true => Failure::Final(ApiError::Unavailable(format!("no answer in time: {e}"))),
            false => unsure(format!("reading the answer: {e}"), after),
        })?;
        let why = || format!("HTTP {status}{}", first_error(&body).map(|e| format!(": {e}")).unwrap_or_default());
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Err(Failure::Retryable { why: why(), after });
        }
        if status.is_server_error() {
            return Err(unsure(why(), after));
        }
        Ok((status, body.to_vec()))
    }
}

/// One API request: a method, a path under the account, an optional last path segment taken
/// verbatim (percent-encoded; a Workers KV key may hold `/`), a query and a body.
#[derive(Debug)]
pub struct Request<'a> {
    method: Method,
    path: &'a str,
    key: Option<&'a str>,
    query: Vec<(&'static str, String)>,
    body: Body<'a>,
    /// Sending it twice has the effect of sending it once: then a `5xx` or a connection lost
    /// mid-request is retried.
    idempotent: bool,
}

#[derive(Debug)]
enum Body<'a> {
    None,
    Json(&'a serde_json::Value),
    Bytes(&'a [u8]),
}

impl<'a> Request<'a> {
    /// A request; `GET`, `PUT` and `DELETE` are taken as idempotent, `POST` not (see
    /// [`Request::idempotent`]).
    pub fn new(method: Method, path: &'a str) -> Self {
        let idempotent = method != Method::POST;
        Self { method, path, key: None, query: Vec::new(), body: Body::None, idempotent }
    }

    /// Whether sending the request twice does no harm (a `POST` that only reads).
    pub fn idempotent(mut self, idempotent: bool) -> Self {
        self.idempotent = idempotent;
        self
    }

    /// Appends `key` as one more path segment, percent-encoded whatever it holds.
    pub fn key(mut self, key: &'a str) -> Self {
        self.key = Some(key);
        self
    }

    /// Adds a query parameter.
    pub fn query(mut self, name: &'static str, value: impl ToString) -> Self {
        self.query.push((name, value.to_string()));
        self
    }

    /// Sends `body` as JSON.
    pub fn json(mut self, body: &'a serde_json::Value) -> Self {
        self.body = Body::Json(body);
        self
    }

    /// Sends `body` as raw bytes (a Workers KV value).
    pub fn bytes(mut self, body: &'a [u8]) -> Self {
        self.body = Body::Bytes(body);
        self
    }
}

/// The `result` of a successful envelope, which some endpoints leave `null`.
#[derive(Debug)]
pub struct Answer<T>(pub Option<T>);

impl<T> Answer<T> {
    /// The result, which this endpoint must give.
    pub fn require(self) -> Result<T, ApiError> {
        self.0.ok_or_else(|| ApiError::Malformed("success without a result".into()))
    }
}

/// A refusal as the envelope's first error gives it.
fn rejected(status: StatusCode, errors: Vec<EnvelopeError>) -> ApiError {
    let first = errors.into_iter().next();
    ApiError::Rejected {
        status: status.as_u16(),
        code: first.as_ref().and_then(|e| e.code),
        message: first.map_or_else(|| "no error given".into(), |e| e.message),
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

fn first_error(body: &[u8]) -> Option<String> {
    let envelope: Envelope<serde_json::Value> = serde_json::from_slice(body).ok()?;
    envelope.errors.into_iter().next().map(|e| e.message)
}
