//! Health, readiness, admin counts.

use alleato_api::{Health, Readiness, ReadyCheck, Stats};
use alleato_core::{Error, Surface};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Json, Router};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/ping", get(ping))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/admin/stats", get(stats))
}

/// The cheapest route through the full stack: liveness probes and the benchmark's ceiling.
#[utoipa::path(get, operation_id = "ping", path = "/ping", tag = "system", responses((status = 200, description = "pong", body = String)))]
pub(crate) async fn ping() -> &'static str {
    "pong"
}

#[utoipa::path(get, operation_id = "getHealth", path = "/health", tag = "system", responses((status = 200, description = "Alive; the adapter serving each port (with file paths only for a caller with the admin key)", body = alleato_api::Health)))]
pub(crate) async fn health(State(state): State<AppState>, headers: HeaderMap) -> Json<Health> {
    let mut adapters = state.settings.adapters.clone();
    if !is_admin(&state, &headers) {
        // Where the data lives on disk is the operator's business, not every caller's.
        for adapter in &mut adapters {
            adapter.backend = without_path(&adapter.backend);
        }
    }
    Json(Health { status: "ok".into(), version: env!("CARGO_PKG_VERSION").into(), adapters })
}

/// `sqlite (/srv/alleato/data/alleato.sqlite3)` becomes `sqlite`; details without a path stay.
fn without_path(backend: &str) -> String {
    match backend.split_once(" (") {
        Some((name, detail)) if detail.contains(['/', '\\']) => name.to_owned(),
        _ => backend.to_owned(),
    }
}

fn is_admin(state: &AppState, headers: &HeaderMap) -> bool {
    let given = headers.get("x-api-key").and_then(|v| v.to_str().ok());
    match (&state.settings.admin_key, given) {
        (Some(expected), Some(given)) => constant_time_eq(given.as_bytes(), expected.expose().as_bytes()),
        _ => false,
    }
}

/// Pings every adapter; 503 when any is down, naming it.
#[utoipa::path(get, operation_id = "getReadiness", path = "/ready", tag = "system", responses((status = 200, description = "Every adapter answers", body = alleato_api::Readiness), (status = 503, description = "An adapter is down; the checks say which", body = alleato_api::Readiness)))]
pub(crate) async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let ports = &state.services.ports;
    let (database, storage, kv, counters, streams) = futures::join!(
        with_timeout(ports.database.ping()),
        with_timeout(ports.objects.ping()),
        with_timeout(ports.kv.ping()),
        with_timeout(ports.counters.ping()),
        with_timeout(ports.streams.ping())
    );
    let backend = |port: &str| {
        state.settings.adapters.iter().find(|a| a.port == port).map(|a| a.backend.clone()).unwrap_or_default()
    };
    let checks: Vec<ReadyCheck> =
        [("database", database), ("storage", storage), ("key-value", kv), ("counters", counters), ("streams", streams)]
            .into_iter()
            .map(|(port, result)| ReadyCheck {
                port: port.into(),
                backend: backend(port),
                ok: result.is_ok(),
                error: result.err(),
            })
            .collect();
    let ready = checks.iter().all(|c| c.ok);
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(Readiness { ready, checks }))
}

async fn with_timeout(ping: impl Future<Output = alleato_core::Result<()>>) -> Result<(), String> {
    match alleato_core::rt::timeout(std::time::Duration::from_secs(2), ping).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "readiness check failed");
            Err(err.public_message())
        }
        Err(_) => Err("no answer within 2 s".into()),
    }
}

#[utoipa::path(get, operation_id = "getAdminStats", path = "/admin/stats", tag = "system", security(("api_key" = [])), responses((status = 200, description = "Real counts", body = alleato_api::Stats), (status = 404, description = "No admin key is configured: the admin routes do not exist", body = alleato_api::ErrorBody)))]
pub(crate) async fn stats(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Json<Stats>> {
    let Some(expected) = &state.settings.admin_key else {
        // No key configured: the admin surface does not exist.
        return Err(ApiError::not_found_route());
    };
    let given = headers.get("x-api-key").and_then(|v| v.to_str().ok());
    match given {
        None => return Err(ApiError(Error::unauthorized(Surface::Api, "API key required in the X-API-Key header."))),
        Some(given) if !constant_time_eq(given.as_bytes(), expected.expose().as_bytes()) => {
            return Err(ApiError(Error::unauthorized(Surface::Api, "Invalid API key.")));
        }
        Some(_) => {}
    }
    Ok(Json(state.services.ports.database.stats().await?))
}

/// Compares without stopping at the first difference, so timing does not reveal the key.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        diff |= usize::from(a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0));
    }
    diff == 0
}
