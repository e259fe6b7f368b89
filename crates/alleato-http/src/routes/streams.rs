//! The original SDK's generic streams resource: `POST /streams`, `GET /streams/{id}` (JSON, or
//! SSE replay-and-follow), `POST /streams/{id}/append`, `DELETE /streams/{id}`.

use alleato_api::{StreamContentsView, StreamCreated, Success};
use alleato_core::ids::StreamId;
use alleato_core::services::StreamPages;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use super::sse::{self, ResumeCursor};
use crate::error::ApiResult;
use crate::extract::{AnyJson, Auth, Path, parse_id};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/", post(create)).route("/{id}", get(show).delete(delete)).route("/{id}/append", post(append))
}

#[utoipa::path(post, operation_id = "createStream", path = "/api/v1/streams", tag = "streams", security(("bearer" = [])),
    responses((status = 201, description = "A new stream, kept 24 h from its creation", body = alleato_api::StreamCreated),
              (status = 429, description = "The account created 64 streams in the last 24 hours (`rate_limit:stream`), or rate limited; see `Retry-After`", body = alleato_api::ErrorBody)))]
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
              (status = 404, description = "No such stream (or not yours, or expired)", body = alleato_api::ErrorBody),
              (status = 409, description = "With SSE: the cursor is past the end of the stream as it is now (`conflict:stream`)", body = alleato_api::ErrorBody)))]
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
    let pages = state.services.streams.pages(&who, id).await?;
    Ok(json_body(pages))
}

/// The stream as one JSON object (the `StreamContentsView` shape), written page by page: a
/// reader costs the server one page of memory, not the whole stream.
fn json_body(pages: StreamPages) -> Response {
    let head =
        StreamContentsView { id: pages.id, data: vec![], created_at: pages.created_at, updated_at: pages.updated_at };
    // `{"id":..,"data":[],"createdAt":..}` becomes `{"id":..,"createdAt":..,"data":[` + values + `]}`.
    let mut head = serde_json::to_value(&head).unwrap_or_default();
    if let Some(map) = head.as_object_mut() {
        map.remove("data");
    }
    let mut opening = head.to_string();
    opening.pop();
    opening.push_str(",\"data\":[");
    let body = futures::stream::unfold((Some(pages), Some(opening), true), |(pages, opening, first)| async move {
        if let Some(opening) = opening {
            return Some((Ok(Bytes::from(opening)), (pages, None, first)));
        }
        let mut pages = pages?;
        match pages.next_page().await {
            Ok(Some(values)) => {
                let mut chunk = Vec::with_capacity(values.iter().map(|v| v.len() + 1).sum());
                let mut first = first;
                for value in values {
                    if !first {
                        chunk.push(b',');
                    }
                    first = false;
                    // Values are stored as the JSON text `StreamService::append` serialised: written
                    // as they are, as the SSE reader does.
                    chunk.extend_from_slice(&value);
                }
                Some((Ok(Bytes::from(chunk)), (Some(pages), None, first)))
            }
            Ok(None) => Some((Ok(Bytes::from_static(b"]}")), (None, None, first))),
            Err(err) => {
                tracing::warn!(stream = %pages.id, error = %err, "reading a stream failed part-way; the body is cut");
                Some((Err(std::io::Error::other(err.public_message())), (None, None, first)))
            }
        }
    });
    ([(header::CONTENT_TYPE, "application/json")], Body::from_stream(body)).into_response()
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
