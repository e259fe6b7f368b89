//! The original SDK's generic streams resource: `POST /streams`, `GET /streams/{id}` (JSON, or
//! SSE replay-and-follow), `POST /streams/{id}/append`, `DELETE /streams/{id}`.

use alleato_api::{StreamContentsView, StreamCreated, Success};
use alleato_core::ids::StreamId;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use super::sse::{self, ResumeCursor};
use crate::error::ApiResult;
use crate::extract::{AnyJson, Auth, parse_id};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/", post(create)).route("/{id}", get(show).delete(delete)).route("/{id}/append", post(append))
}

#[utoipa::path(post, operation_id = "createStream", path = "/api/v1/streams", tag = "streams", security(("bearer" = [])),
    responses((status = 201, description = "A new stream, kept 24 h after its last append", body = alleato_api::StreamCreated)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    Auth(who): Auth,
) -> ApiResult<(StatusCode, Json<StreamCreated>)> {
    let stream_id = state.services.streams.create(&who).await?;
    Ok((StatusCode::CREATED, Json(StreamCreated { stream_id })))
}

#[utoipa::path(get, operation_id = "getStream", path = "/api/v1/streams/{id}", tag = "streams", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "Stream id"), ("cursor" = Option<u64>, Query, description = "With SSE: resume after this entry")),
    responses((status = 200, description = "The stream as JSON, or as SSE (replay, then live) when the request accepts text/event-stream", body = alleato_api::StreamContentsView),
              (status = 404, description = "No such stream (or not yours, or expired)", body = alleato_api::ErrorBody)))]
pub(crate) async fn show(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
    ResumeCursor(cursor): ResumeCursor,
) -> ApiResult<Response> {
    let id: StreamId = parse_id(&id, "stream")?;
    if sse::wants_events(&headers) {
        return Ok(sse::events(state.services.streams.follow(&who, id, cursor.unwrap_or(0)).await?));
    }
    let contents = state.services.streams.get(&who, id).await?;
    Ok(Json(StreamContentsView {
        id: contents.id,
        data: contents.data,
        created_at: contents.created_at,
        updated_at: contents.updated_at,
    })
    .into_response())
}

#[utoipa::path(post, operation_id = "appendToStream", path = "/api/v1/streams/{id}/append", tag = "streams", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "Stream id")),
    request_body(content = serde_json::Value, description = "Any JSON value, at most 64 KiB"),
    responses((status = 200, description = "Appended", body = alleato_api::Success),
              (status = 404, description = "No such stream", body = alleato_api::ErrorBody),
              (status = 413, description = "Too large, or the stream is full", body = alleato_api::ErrorBody)))]
pub(crate) async fn append(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    AnyJson(value): AnyJson,
) -> ApiResult<Json<Success>> {
    state.services.streams.append(&who, parse_id(&id, "stream")?, &value).await?;
    Ok(Json(Success::YES))
}

#[utoipa::path(delete, operation_id = "deleteStream", path = "/api/v1/streams/{id}", tag = "streams", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "Stream id")),
    responses((status = 200, description = "Deleted", body = alleato_api::Success),
              (status = 404, description = "No such stream", body = alleato_api::ErrorBody)))]
pub(crate) async fn delete(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Success>> {
    state.services.streams.delete(&who, parse_id(&id, "stream")?).await?;
    Ok(Json(Success::YES))
}
