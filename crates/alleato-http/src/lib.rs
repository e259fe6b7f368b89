//! Alleato's HTTP application: every route of `/api/v1`, `/health`, `/ready`, the OpenAPI
//! document and the web app, with the layers every request goes through (request ids, tracing,
//! CORS, body limits, timeouts, rate limits, JSON errors for everything), as one axum
//! [`Router`] over the [`Services`].
//!
//! It holds no runtime and no adapter: whoever serves the router chose the adapters and runs
//! the accept loop (`alleato-server` natively; a Worker at the edge). It builds for
//! `wasm32-unknown-unknown`.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod error;
mod extract;
mod middleware;
mod routes;
mod state;
mod web;

use std::time::Duration;

use alleato_api::AdapterInfo;
use alleato_core::Secret;
use alleato_core::services::Services;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, header};
use serde::{Deserialize, Serialize};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

pub use error::ApiError;
pub use middleware::PeerIp;

use crate::state::AppState;

/// `[rate_limit]`: requests per client IP per minute, by route group (`ALLEATO_RATE_LIMIT__*`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// `RATE_LIMIT_ENABLED=false` turns limiting off (benchmarks).
    pub enabled: bool,
    /// Requests per client IP per minute, for the API in general.
    pub api_per_minute: u32,
    /// Per minute for login, register and guest sign-up: tight, against password guessing.
    pub auth_per_minute: u32,
    /// Per minute for uploads.
    pub upload_per_minute: u32,
}

/// What the application needs to know besides the services: limits, who may see what, and the
/// start-up table it reports on `/health`.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Which backend serves each port, and why (served on `/health` and `/ready`).
    pub adapters: Vec<AdapterInfo>,
    /// The key of the admin routes; none, and they do not exist.
    pub admin_key: Option<Secret>,
    /// Requests per client IP per minute.
    pub rate_limit: RateLimitConfig,
    /// Take the client's address from the first `X-Forwarded-For` hop (behind a proxy).
    pub trust_forwarded_for: bool,
    /// Serve the web app at `/`.
    pub web_app: bool,
    /// Origins allowed by CORS (`*` for any); empty, no CORS headers.
    pub cors_origins: Vec<String>,
    /// The largest request body, uploads aside.
    pub max_body_bytes: usize,
    /// The largest uploaded file.
    pub max_upload_bytes: u64,
    /// A handler answering later than this gets a 408.
    pub request_timeout: Duration,
}

/// A setting the router cannot be built with.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A `CORS_ORIGINS` entry that is not a valid header value.
    #[error("CORS_ORIGINS entry {0:?} is not a valid origin")]
    CorsOrigin(String),
}

/// Every route and layer over `services`.
pub fn router(services: Services, settings: HttpSettings) -> Result<Router, SettingsError> {
    let cors = cors(&settings.cors_origins)?;
    let (max_body_bytes, max_upload_bytes, web_app) =
        (settings.max_body_bytes, settings.max_upload_bytes, settings.web_app);
    let request_timeout = settings.request_timeout;
    let state = AppState::new(services, settings);
    let request_id = HeaderName::from_static("x-request-id");
    let api = routes::api_v1(max_upload_bytes)
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), middleware::rate_limit));
    let mut router = Router::new()
        .nest("/api/v1", api)
        .merge(routes::system::routes())
        .merge(if web_app { web::routes() } else { Router::new() })
        .fallback(middleware::not_found)
        .method_not_allowed_fallback(middleware::method_not_allowed)
        .with_state(state)
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(
            middleware::DeclaredSizeLimits {
                body: max_body_bytes as u64,
                upload: routes::upload_body_limit(max_upload_bytes) as u64,
            },
            middleware::reject_declared_oversize,
        ))
        .layer(axum::middleware::from_fn_with_state(request_timeout.max(Duration::from_secs(1)), middleware::timeout))
        .layer(CatchPanicLayer::custom(middleware::panic_response))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ));
    if let Some(cors) = cors {
        router = router.layer(cors);
    }
    Ok(router
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
            let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
        }))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid)))
}

/// CORS for the configured origins only. Tokens travel in the Authorization header, never in
/// cookies, so credentials are not allowed and no origin is ever reflected blindly.
fn cors(origins: &[String]) -> Result<Option<CorsLayer>, SettingsError> {
    if origins.is_empty() {
        return Ok(None);
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        let list = origins
            .iter()
            .map(|o| HeaderValue::from_str(o.trim_end_matches('/')).map_err(|_| SettingsError::CorsOrigin(o.clone())))
            .collect::<Result<Vec<_>, _>>()?;
        AllowOrigin::list(list)
    };
    Ok(Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                HeaderName::from_static("last-event-id"),
                HeaderName::from_static("x-api-key"),
            ])
            .expose_headers([
                header::RETRY_AFTER,
                HeaderName::from_static("x-ratelimit-limit"),
                HeaderName::from_static("x-ratelimit-remaining"),
                HeaderName::from_static("x-ratelimit-reset"),
                HeaderName::from_static("x-request-id"),
            ])
            .max_age(Duration::from_secs(600)),
    ))
}
