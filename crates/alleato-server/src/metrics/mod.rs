//! Live metrics in Prometheus' text format, on a listen address of their own
//! (`ALLEATO_METRICS_ADDR`; unset, nothing is recorded or served). Recorded through the
//! `metrics` facade into `metrics-exporter-prometheus`:
//!
//! - `alleato_http_requests_total` and `alleato_http_request_duration_seconds`, by method, route
//!   template (`/api/v1/chats/:id`, never the raw path) and status;
//! - `alleato_port_call_duration_seconds` and `alleato_port_errors_total`, by port, operation,
//!   backend (the first word of the adapter table's row: `postgres`, `sqlite`, `d1`, `redis`,
//!   `embedded`, `workers-kv`, …) and the route whose request made the call (`background` for
//!   generation jobs and sweeps), recorded by decorators over the ports ([`ports`]), so the
//!   adapters know nothing of it;
//! - `alleato_generations_running`, `alleato_stream_chunks_total`,
//!   `alleato_model_time_to_first_token_seconds` and `alleato_rate_limit_rejections_total`.

pub mod ports;

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Instant;

use anyhow::Context;
use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;

/// Latency buckets, in seconds: from a cache hit to a long answer.
const BUCKETS: &[f64] =
    &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

tokio::task_local! {
    /// The route template of the request being served, for the port calls it makes.
    static ROUTE: &'static str;
}

/// The route of the request this task serves; `background` outside any request.
pub fn current_route() -> &'static str {
    ROUTE.try_with(|route| *route).unwrap_or("background")
}

/// The process's recorder: installed once (a process serves one set of metrics, however many
/// servers it starts, as the in-process tests do).
fn handle() -> anyhow::Result<PrometheusHandle> {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let handle = PrometheusBuilder::new()
        .set_buckets(BUCKETS)
        .context("metrics buckets")?
        .install_recorder()
        .context("installing the metrics recorder")?;
    Ok(HANDLE.get_or_init(|| handle).clone())
}

/// Binds the metrics address and serves `GET /metrics` there until the process ends.
pub async fn serve(addr: SocketAddr) -> anyhow::Result<SocketAddr> {
    let handle = handle()?;
    let listener = TcpListener::bind(addr).await.with_context(|| format!("binding the metrics address {addr}"))?;
    let bound = listener.local_addr()?;
    let router = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let handle = handle.clone();
            async move {
                ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], handle.render())
            }
        }),
    );
    tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, router).await {
            tracing::error!(error = %err, "the metrics listener stopped");
        }
    });
    tracing::info!(addr = %bound, "metrics at /metrics");
    Ok(bound)
}

/// Times every request by its route template, and runs the handler with that route known to
/// the port decorators.
pub async fn http(request: Request, next: Next) -> Response {
    let route: &'static str =
        request.extensions().get::<MatchedPath>().map_or("unmatched", |path| label(path.as_str()));
    let method = method_label(request.method());
    let started = Instant::now();
    let response = ROUTE.scope(route, next.run(request)).await;
    let status = response.status().as_u16().to_string();
    let labels = [("method", method.to_owned()), ("route", route.to_owned()), ("status", status)];
    metrics::counter!("alleato_http_requests_total", &labels).increment(1);
    metrics::histogram!("alleato_http_request_duration_seconds", &labels).record(started.elapsed().as_secs_f64());
    response
}

/// The `method` label: one of the methods RFC 9110 defines (and PATCH), else `other`. Any
/// client can send any token as a method, and each distinct label value is a series kept for the
/// life of the process: labels come from closed sets only (routes from the router's templates
/// plus `unmatched`, statuses from the three-digit codes).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// The label of a route template or a backend's name, made once and kept for the process
/// (they are few): `/api/v1/chats/{id}` becomes `/api/v1/chats/:id`, the same template in the
/// form every scraper reads (braces inside a label value trip some parsers). A request costs a
/// lookup, never an allocation.
fn label(raw: &str) -> &'static str {
    use std::collections::HashMap;
    use std::sync::Mutex;
    static LABELS: OnceLock<Mutex<HashMap<String, &'static str>>> = OnceLock::new();
    let mut labels = LABELS.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    if let Some(known) = labels.get(raw) {
        return known;
    }
    let converted = raw.replace("{*", "*").replace('{', ":").replace('}', "");
    let leaked: &'static str = Box::leak(converted.into_boxed_str());
    labels.insert(raw.to_owned(), leaked);
    leaked
}
