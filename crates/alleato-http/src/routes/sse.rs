//! Server-sent events for streams: each entry is one event whose `id:` is its sequence number,
//! so a client can resume with `Last-Event-ID`.

use std::convert::Infallible;

use alleato_core::Result;
use axum::http::{HeaderMap, HeaderValue, header};
#[cfg(not(target_arch = "wasm32"))]
use axum::response::sse::KeepAlive;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use futures::stream::{BoxStream, StreamExt};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::error::ApiError;
use crate::extract::ApiQuery;

/// The AI SDK's UI message stream response: SSE plus the headers its clients look for.
pub fn ui_message_stream(entries: BoxStream<'static, Result<(u64, Vec<u8>)>>) -> Response {
    let mut response = events(entries);
    let headers = response.headers_mut();
    headers.insert("x-vercel-ai-ui-message-stream", HeaderValue::from_static("v1"));
    response
}

/// Any stream as SSE.
pub fn events(entries: BoxStream<'static, Result<(u64, Vec<u8>)>>) -> Response {
    let events = entries.map(|entry| {
        Ok::<_, Infallible>(match entry {
            Ok((seq, bytes)) => Event::default().id(seq.to_string()).data(String::from_utf8_lossy(&bytes)),
            // The stream broke while followed: say so in the protocol's own terms.
            Err(err) => {
                Event::default().data(alleato_core::services::ui_stream::error(&err.public_message()).to_string())
            }
        })
    });
    // Natively, a comment every 15 s keeps proxies from closing an idle stream; a Worker's
    // runtime has no timer for axum to use, and its platform keeps streams open itself.
    #[cfg(not(target_arch = "wasm32"))]
    let mut response = Sse::new(events).keep_alive(KeepAlive::default()).into_response();
    #[cfg(target_arch = "wasm32")]
    let mut response = Sse::new(events).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// The resume cursor of a request: `Last-Event-ID` (what browsers send on reconnect) or
/// `?cursor=`; `None` when neither is given.
pub struct ResumeCursor(pub Option<u64>);

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CursorQuery {
    cursor: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for ResumeCursor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> std::result::Result<Self, Self::Rejection> {
        let ApiQuery(query) = ApiQuery::<CursorQuery>::from_request_parts(parts, state).await?;
        Ok(Self(cursor(&parts.headers, query.cursor.as_deref())?))
    }
}

/// A blank `Last-Event-ID` means "from the start"; `?cursor=` must be a number when given, as
/// the API documents it.
fn cursor(headers: &HeaderMap, query: Option<&str>) -> std::result::Result<Option<u64>, ApiError> {
    let invalid = || ApiError::bad_request("The resume cursor (Last-Event-ID or ?cursor=) must be a chunk number.");
    if let Some(header) = headers.get("last-event-id").and_then(|v| v.to_str().ok()) {
        return match header.trim() {
            "" => Ok(None),
            raw => raw.parse::<u64>().map(Some).map_err(|_| invalid()),
        };
    }
    query.map(|raw| raw.parse::<u64>().map_err(|_| invalid())).transpose()
}

/// Whether the client asked for an event stream.
pub fn wants_events(headers: &HeaderMap) -> bool {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("text/event-stream"))
}
