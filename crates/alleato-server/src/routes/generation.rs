//! Sending a message and watching the answer: `POST /chats/{id}/messages` (SSE, AI SDK UI
//! message stream v1), resuming (`GET /chats/{id}/stream`), stopping, and trimming for edits.

use alleato_api::{DeletedCount, MessagePart, StopResponse, Visibility};
use alleato_core::ids::{ChatId, MessageId};
use alleato_core::services::{IncomingMessage, SendMessage};
use alleato_core::{Error, Surface};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;

use super::sse::{self, ResumeCursor};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, Auth, Path, parse_id};
use crate::state::AppState;

/// The three body shapes clients send: `{message}` (the Next.js app), `{messages: UIMessage[]}`
/// (the AI SDK's default transport; only the last, a user message, is new: the stored history is
/// the truth), and `{messages: [{role, content}]}` (the original TypeScript SDK).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SendBody {
    message: Option<Value>,
    messages: Option<Vec<Value>>,
    model: Option<String>,
    selected_chat_model: Option<String>,
    visibility: Option<Visibility>,
    selected_visibility_type: Option<Visibility>,
}

#[derive(Debug, Deserialize)]
struct UiMessage {
    id: Option<String>,
    role: String,
    parts: Vec<MessagePart>,
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError(Error::bad_request(Surface::Chat, message.into()))
}

/// The new user message, whatever shape it came in.
fn incoming(body: &SendBody) -> Result<IncomingMessage, ApiError> {
    let value = match (&body.message, &body.messages) {
        (Some(message), _) => message.clone(),
        (None, Some(messages)) => messages.last().cloned().ok_or_else(|| bad("`messages` is empty."))?,
        (None, None) => return Err(bad("Send the new message as `message`, or as the last of `messages`.")),
    };
    if value.get("parts").is_some() {
        let message: UiMessage =
            serde_json::from_value(value).map_err(|e| bad(format!("The message is not a valid UIMessage: {e}")))?;
        if message.role != "user" {
            return Err(bad("The new message must have the role `user`."));
        }
        if message.id.as_ref().is_some_and(|id| id.is_empty() || id.len() > 200) {
            return Err(bad("A message id must be 1 to 200 characters."));
        }
        return Ok(IncomingMessage { id: message.id, parts: message.parts });
    }
    match (value.get("role").and_then(Value::as_str), value.get("content")) {
        (Some("user"), Some(Value::String(content))) => {
            Ok(IncomingMessage { id: None, parts: vec![MessagePart::text(content.clone())] })
        }
        (Some(_), Some(Value::String(_))) => Err(bad("The new message must have the role `user`.")),
        _ => Err(bad("A message needs `parts` (UIMessage) or `role` and a string `content`.")),
    }
}

#[utoipa::path(post, operation_id = "sendMessage", path = "/api/v1/chats/{id}/messages", tag = "generation", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "Chat id; a new id creates the chat")),
    request_body(content = Object, description = "`{message: UIMessage}`, `{messages: UIMessage[]}` or `{messages: [{role, content}]}`, with optional `model`/`selectedChatModel` and `visibility`/`selectedVisibilityType`"),
    responses(
        (status = 200, description = "The answer as an AI SDK UI message stream (SSE; each event has an `id:` to resume from)", content_type = "text/event-stream"),
        (status = 400, description = "Invalid message or over the length limit", body = alleato_api::ErrorBody),
        (status = 404, description = "Someone else's chat", body = alleato_api::ErrorBody),
        (status = 409, description = "A reply is already being generated", body = alleato_api::ErrorBody),
        (status = 429, description = "Daily message limit reached", body = alleato_api::ErrorBody)))]
pub(crate) async fn send(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SendBody>,
) -> ApiResult<Response> {
    let chat: ChatId = parse_id(&id, "chat")?;
    let request = SendMessage {
        message: incoming(&body)?,
        model: body.selected_chat_model.clone().or(body.model.clone()),
        visibility: body.selected_visibility_type.or(body.visibility),
    };
    let started = state.services.generation.send(&who, chat, request).await?;
    Ok(sse::ui_message_stream(state.services.generation.follow(started.stream_id, 0)))
}

#[utoipa::path(get, operation_id = "resumeChatStream", path = "/api/v1/chats/{id}/stream", tag = "generation", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "Chat id"),
           ("cursor" = Option<u64>, Query, description = "Resume after this chunk (or send Last-Event-ID)")),
    responses(
        (status = 200, description = "The chat's generation replayed from the cursor, then live", content_type = "text/event-stream"),
        (status = 204, description = "Nothing to resume"),
        (status = 404, description = "No such chat, or the stream expired", body = alleato_api::ErrorBody)))]
pub(crate) async fn resume(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    ResumeCursor(cursor): ResumeCursor,
) -> ApiResult<Response> {
    let chat: ChatId = parse_id(&id, "chat")?;
    match state.services.generation.resume(&who, chat, cursor).await? {
        None => Ok(StatusCode::NO_CONTENT.into_response()),
        Some(stream) => Ok(sse::ui_message_stream(state.services.generation.follow(stream, cursor.unwrap_or(0)))),
    }
}

#[utoipa::path(post, operation_id = "stopGeneration", path = "/api/v1/chats/{id}/stop", tag = "generation", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "Chat id")),
    responses((status = 200, description = "Whether a generation was running (it is now stopped)", body = alleato_api::StopResponse),
              (status = 403, description = "Someone else's public chat: read-only for the caller", body = alleato_api::ErrorBody),
              (status = 404, description = "No such chat", body = alleato_api::ErrorBody)))]
pub(crate) async fn stop(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<StopResponse>> {
    let stopped = state.services.generation.stop(&who, parse_id(&id, "chat")?).await?;
    Ok(Json(StopResponse { stopped }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AfterMessage {
    after: Option<String>,
}

#[utoipa::path(delete, operation_id = "deleteMessagesAfter", path = "/api/v1/chats/{id}/messages", tag = "generation", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "Chat id"), ("after" = String, Query, description = "Message id; later messages go")),
    responses((status = 200, description = "How many messages were deleted (with their votes)", body = alleato_api::DeletedCount),
              (status = 403, description = "Someone else's public chat: read-only for the caller", body = alleato_api::ErrorBody),
              (status = 404, description = "No such chat or message", body = alleato_api::ErrorBody)))]
pub(crate) async fn delete_after(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<AfterMessage>,
) -> ApiResult<Json<DeletedCount>> {
    let chat: ChatId = parse_id(&id, "chat")?;
    let raw =
        query.after.ok_or_else(|| ApiError::bad_request("Query parameter `after` (a message id) is required."))?;
    let message: MessageId = alleato_core::services::message_id_from_client(chat, raw.trim());
    let deleted_count = state.services.generation.delete_after(&who, chat, message).await?;
    Ok(Json(DeletedCount { deleted_count }))
}
