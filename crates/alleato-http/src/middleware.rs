//! Cross-cutting request handling: rate limits, timeouts, panics, JSON fallbacks.

use std::net::IpAddr;
use std::time::Duration;

use alleato_api::ErrorBody;
use alleato_core::{Error, Surface};
use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::state::AppState;

/// The rate-limit group of a path under `/api/v1`, with its per-minute limit.
fn group(rest: &str, state: &AppState) -> (&'static str, u32) {
    let limits = &state.settings.rate_limit;
    match rest {
        "/auth/login" | "/auth/register" | "/auth/guest" => ("auth", limits.auth_per_minute),
        "/files/upload" => ("upload", limits.upload_per_minute),
        _ => ("api", limits.api_per_minute),
    }
}

/// The client address: the socket peer, or the first `X-Forwarded-For` hop when configured to
/// trust a proxy in front.
fn client_ip(req: &Request, trust_forwarded_for: bool) -> String {
    if trust_forwarded_for
        && let Some(ip) = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .and_then(|v| v.trim().parse::<IpAddr>().ok())
    {
        return ip.to_string();
    }
    if let Some(PeerIp(ip)) = req.extensions().get::<PeerIp>() {
        return ip.to_string();
    }
    #[cfg(not(target_arch = "wasm32"))]
    if let Some(axum::extract::ConnectInfo(addr)) =
        req.extensions().get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
    {
        return addr.ip().to_string();
    }
    "unknown".into()
}

/// The client's address, for a runtime that knows it without a socket (a Worker reads
/// `CF-Connecting-IP`): a request extension the rate limits key on. Natively, axum's
/// `ConnectInfo<SocketAddr>` is read when this is absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerIp(pub IpAddr);

fn set_limit_headers(headers: &mut HeaderMap, limit: u32, remaining: u32, resets_in: Duration) {
    // `chrono`, not `SystemTime`: it reads `Date.now()` on wasm32, where `SystemTime` panics.
    let reset_at = chrono::Utc::now().timestamp().max(0) as u64 + resets_in.as_secs();
    headers.insert("x-ratelimit-limit", HeaderValue::from(limit));
    headers.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
    headers.insert("x-ratelimit-reset", HeaderValue::from(reset_at));
}

/// Fixed one-minute windows per client IP and route group, counted in the key-value port so all
/// instances share them. If the store fails, requests pass (logged): a broken limiter must not
/// take the API down with it.
pub async fn rate_limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if !state.settings.rate_limit.enabled {
        return next.run(req).await;
    }
    // This runs inside the nested `/api/v1` router, where the URI has lost that prefix (and
    // any prefix an embedding program mounts Alleato under).
    let (name, limit) = group(req.uri().path(), &state);
    let ip = client_ip(&req, state.settings.trust_forwarded_for);
    match state.services.rate_limiter.hit(&ip, name, limit).await {
        Ok(decision) if !decision.allowed => {
            metrics::counter!("alleato_rate_limit_rejections_total", "group" => name).increment(1);
            let retry_after_secs = decision.resets_in.as_secs_f64().ceil().max(1.0) as u64;
            let err = Error::RateLimited {
                surface: Surface::Api,
                message: format!("Too many requests; try again in {retry_after_secs} s.").into(),
                retry_after_secs,
            };
            let mut response = ApiError(err).into_response();
            set_limit_headers(response.headers_mut(), limit, 0, decision.resets_in);
            response
        }
        Ok(decision) => {
            let mut response = next.run(req).await;
            set_limit_headers(response.headers_mut(), limit, decision.remaining, decision.resets_in);
            response
        }
        Err(err) => {
            tracing::warn!(error = %err, "rate limiter unavailable; letting the request through");
            next.run(req).await
        }
    }
}

/// The body sizes the server accepts: uploads, and everything else.
#[derive(Debug, Clone, Copy)]
pub struct DeclaredSizeLimits {
    pub body: u64,
    pub upload: u64,
}

/// Answers 413 at once when `Content-Length` declares more than the route accepts, instead of
/// waiting (up to the request timeout) for a body that will be refused anyway.
pub async fn reject_declared_oversize(State(limits): State<DeclaredSizeLimits>, req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(declared) = declared {
        let limit = if req.uri().path() == "/api/v1/files/upload" { limits.upload } else { limits.body };
        if declared > limit {
            let mut response = ApiError(Error::PayloadTooLarge {
                surface: Surface::Api,
                message: format!("The request body is {declared} bytes; this route accepts at most {limit}.").into(),
            })
            .into_response();
            // The body is never read: the connection cannot be reused.
            response.headers_mut().insert(axum::http::header::CONNECTION, HeaderValue::from_static("close"));
            return response;
        }
    }
    next.run(req).await
}

/// Answers 408 with a JSON body when a handler takes longer than `timeout` to respond.
pub async fn timeout(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    match alleato_core::rt::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => json_error(StatusCode::REQUEST_TIMEOUT, "timeout:api", "The request took too long."),
    }
}

pub fn json_error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(ErrorBody { code: code.into(), message: message.into() })).into_response()
}

/// A panic in a handler becomes a plain 500 body; the panic itself is logged.
pub fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    tracing::error!(panic = detail, "handler panicked");
    json_error(StatusCode::INTERNAL_SERVER_ERROR, "internal:api", "Something went wrong. Please try again later.")
}

pub async fn not_found() -> ApiError {
    ApiError::not_found_route()
}

pub async fn method_not_allowed() -> Response {
    json_error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed:api", "This route does not accept that method.")
}
