//! The HTTP surface, one module per route group.

mod auth;
mod chats;
mod documents;
mod files;
pub(crate) mod generation;
mod message_schema;
pub mod openapi;
mod sse;
mod streams;
pub(crate) mod system;
mod users;

use axum::Router;

use crate::state::AppState;

/// Everything under `/api/v1`.
pub fn api_v1(max_upload_bytes: u64) -> Router<AppState> {
    Router::new()
        .nest("/auth", auth::routes())
        .nest("/users", users::routes())
        .nest("/chats", chats::routes())
        .nest("/documents", documents::routes())
        .nest("/files", files::routes(max_upload_bytes))
        .nest("/streams", streams::routes())
        .route("/openapi.json", axum::routing::get(openapi::spec))
}

/// The largest upload request body: the file plus room for the multipart framing and fields.
pub fn upload_body_limit(max_upload_bytes: u64) -> usize {
    usize::try_from(max_upload_bytes).unwrap_or(usize::MAX).saturating_add(64 * 1024)
}
