//! Sending a message and watching the answer: `POST /chats/{id}/messages` (SSE, AI SDK UI
//! message stream v1), resuming (`GET /chats/{id}/stream`), stopping, and trimming for edits.

use alleato_api::{DeletedCount, MessagePart, Role, StopResponse, Visibility};
use alleato_core::ids::{ChatId, MessageId};
use alleato_core::services::{GenerationService, IncomingMessage, SendMessage};
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
/// (the AI SDK's default transport; only the last user message is new: the stored history is
/// the truth), and `{messages: [{role, content}]}` (the original TypeScript SDK). Other fields
/// (the AI SDK's `id`, `trigger`...) are ignored; a field this names may not be `null`. The
/// document describes the same rules (`message_schema.rs`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SendBody {
    #[serde(default, deserialize_with = "alleato_api::present")]
    message: Option<Value>,
    #[serde(default, deserialize_with = "alleato_api::present")]
    messages: Option<Vec<Value>>,
    #[serde(default, deserialize_with = "alleato_api::present")]
    model: Option<String>,
    #[serde(default, deserialize_with = "alleato_api::present")]
    selected_chat_model: Option<String>,
    #[serde(default, deserialize_with = "alleato_api::present")]
    visibility: Option<Visibility>,
    #[serde(default, deserialize_with = "alleato_api::present")]
    selected_visibility_type: Option<Visibility>,
}

#[derive(Debug, Deserialize)]
struct UiMessage {
    #[serde(default, deserialize_with = "alleato_api::present")]
    id: Option<String>,
    role: Role,
    parts: Vec<MessagePart>,
}

/// The longest client message id, in characters.
pub(crate) const MAX_MESSAGE_ID_CHARS: usize = 200;

fn bad(message: impl Into<String>) -> ApiError {
    ApiError(Error::bad_request(Surface::Chat, message.into()))
}

/// The new user message, whatever shape it came in. Every item of `messages` must be a
/// well-formed message and every user message in it a valid new one, though only the last user
/// message is read: a client that sends a broken history is told so rather than
/// half-understood. (Rules by position, such as "the last item", are ones the OpenAPI document
/// cannot state; rules by role it can, so the server keeps to those.)
fn incoming(generation: &GenerationService, body: &SendBody) -> Result<IncomingMessage, ApiError> {
    match (&body.message, &body.messages) {
        (Some(_), Some(_)) => Err(bad("Send the new message as `message` or in `messages`, not both.")),
        (Some(message), None) => match parse_message(message)? {
            (Role::User, message) => Ok(message),
            _ => Err(bad("The new message must have the role `user`.")),
        },
        (None, Some(messages)) => {
            let mut newest = None;
            for (i, item) in messages.iter().enumerate() {
                let in_item = |ApiError(e): ApiError| bad(format!("`messages[{i}]`: {}", e.public_message()));
                let (role, message) = parse_message(item).map_err(in_item)?;
                if role == Role::User {
                    generation.check_new_message(&message.parts).map_err(|e| in_item(ApiError(e)))?;
                    newest = Some(message);
                }
            }
            match (newest, messages.is_empty()) {
                (Some(message), _) => Ok(message),
                (None, true) => Err(bad("`messages` is empty.")),
                (None, false) => Err(bad("`messages` has no message with the role `user` to answer.")),
            }
        }
        (None, None) => Err(bad("Send the new message as `message`, or in `messages`.")),
    }
}

/// One message in either shape: a UIMessage (it has `parts`) or `{role, content}`.
fn parse_message(value: &Value) -> Result<(Role, IncomingMessage), ApiError> {
    if !value.is_object() {
        return Err(bad("A message must be a JSON object."));
    }
    if value.get("parts").is_some() {
        // Read from the borrowed value: the AI SDK sends the whole history with every message.
        let message =
            UiMessage::deserialize(value).map_err(|e| bad(format!("The message is not a valid UIMessage: {e}")))?;
        if message.id.as_ref().is_some_and(|id| id.is_empty() || id.chars().count() > MAX_MESSAGE_ID_CHARS) {
            return Err(bad(format!("A message id must be 1 to {MAX_MESSAGE_ID_CHARS} characters.")));
        }
        return Ok((message.role, IncomingMessage { id: message.id, parts: message.parts }));
    }
    match (value.get("role").and_then(Value::as_str).and_then(Role::parse), value.get("content")) {
        (Some(role), Some(Value::String(content))) => {
            Ok((role, IncomingMessage { id: None, parts: vec![MessagePart::text(content.clone())] }))
        }
        _ => Err(bad(
            "A message needs `parts` (UIMessage), or a `role` (user, assistant or system) and a string `content`.",
        )),
    }
}

#[utoipa::path(post, operation_id = "sendMessage", path = "/api/v1/chats/{id}/messages", tag = "generation", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "Chat id; a new id creates the chat")),
    request_body(content = Object, description = "`{message: UIMessage}`, `{messages: UIMessage[]}` or `{messages: [{role, content}]}`, with optional `model`/`selectedChatModel` and `visibility`/`selectedVisibilityType` (schema: `SendMessageRequest`)"),
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
    let message = incoming(&state.services.generation, &body)?;
    if let (Some(model), Some(_)) = (&body.model, &body.selected_chat_model) {
        // `selectedChatModel` wins, but what `model` says must still make sense.
        state.services.generation.model_id(Some(model))?;
    }
    let request = SendMessage {
        message,
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
        (status = 409, description = "The cursor is past the end of the chat's current stream (`conflict:stream`): it came from another answer; resume without one", body = alleato_api::ErrorBody),
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
