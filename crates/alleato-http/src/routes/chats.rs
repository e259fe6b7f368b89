use alleato_api::{
    ChatList, ChatResponse, ChatWithMessages, CreateChatRequest, DeletedCount, Success, UpdateChatRequest, VoteList,
    VoteRequest, VoteResponse, VoteType,
};
use alleato_core::ids::{ChatId, MessageId};
use alleato_core::model::{ChatCursorDirection, ChatPage};
use alleato_core::services::{ChatUpdate, NewChat};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;

use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiJsonOrDefault, ApiQuery, Auth, Path, parse_id};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(list).post(create).delete(delete_all))
        .route("/{id}", get(show).patch(update).delete(delete))
        .route("/{id}/votes", get(votes))
        .route("/{id}/messages/{message_id}/vote", put(vote))
        .route("/{id}/messages", post(super::generation::send).delete(super::generation::delete_after))
        .route("/{id}/stream", get(super::generation::resume))
        .route("/{id}/stop", post(super::generation::stop))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    limit: Option<u32>,
    starting_after: Option<String>,
    ending_before: Option<String>,
}

#[utoipa::path(get, operation_id = "listChats", path = "/api/v1/chats", tag = "chats", security(("bearer" = [])), params(("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "1 to 100, default 20"), ("starting_after" = Option<String>, Query, format = Uuid, description = "Chats newer than this chat id"), ("ending_before" = Option<String>, Query, format = Uuid, description = "Chats older than this chat id; with `starting_after` too, the chats between the two, paged down from this one")), responses((status = 200, description = "The caller's chats, newest first", body = alleato_api::ChatList), (status = 404, description = "A cursor names none of the caller's chats", body = alleato_api::ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<ChatList>> {
    let limit = q.limit.unwrap_or(ChatPage::DEFAULT_LIMIT);
    let cursor = match (q.starting_after, q.ending_before) {
        (Some(newer_than), Some(older_than)) => {
            let (newer_than, older_than) = (parse_id(&newer_than, "chat")?, parse_id(&older_than, "chat")?);
            let (chats, has_more) = state.services.chats.list_between(&who, limit, newer_than, older_than).await?;
            return Ok(Json(ChatList { chats, has_more }));
        }
        (Some(id), None) => Some((ChatCursorDirection::StartingAfter, parse_id::<ChatId>(&id, "chat")?)),
        (None, Some(id)) => Some((ChatCursorDirection::EndingBefore, parse_id::<ChatId>(&id, "chat")?)),
        (None, None) => None,
    };
    let page = ChatPage { limit, cursor };
    let (chats, has_more) = state.services.chats.list(&who, page).await?;
    Ok(Json(ChatList { chats, has_more }))
}

#[utoipa::path(post, operation_id = "createChat", path = "/api/v1/chats", tag = "chats", security(("bearer" = [])), request_body(content = alleato_api::CreateChatRequest, description = "Optional: no body creates a private \"New chat\"; a body that is sent is an object (not `null`)"), responses((status = 201, description = "Created", body = alleato_api::ChatResponse), (status = 409, description = "Conflict", body = alleato_api::ErrorBody)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiJsonOrDefault(body): ApiJsonOrDefault<CreateChatRequest>,
) -> ApiResult<(StatusCode, Json<ChatResponse>)> {
    let chat = state
        .services
        .chats
        .create(&who, NewChat { id: body.id, title: body.title, visibility: body.visibility })
        .await?;
    Ok((StatusCode::CREATED, Json(ChatResponse { chat })))
}

#[utoipa::path(get, operation_id = "getChat", path = "/api/v1/chats/{id}", tag = "chats", security(("bearer" = [])), params(("id" = String, Path, format = Uuid, description = "Chat id")), responses((status = 200, description = "The chat and its messages", body = alleato_api::ChatWithMessages), (status = 404, description = "Not found (or not the caller's)", body = alleato_api::ErrorBody)))]
pub(crate) async fn show(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<ChatWithMessages>> {
    let (chat, messages) = state.services.chats.get(&who, parse_id(&id, "chat")?).await?;
    Ok(Json(ChatWithMessages { chat, messages }))
}

#[utoipa::path(patch, operation_id = "updateChat", path = "/api/v1/chats/{id}", tag = "chats", security(("bearer" = [])), params(("id" = String, Path, format = Uuid, description = "Chat id")), request_body = alleato_api::UpdateChatRequest, responses((status = 200, description = "Updated", body = alleato_api::ChatResponse), (status = 403, description = "Read-only for the caller", body = alleato_api::ErrorBody), (status = 404, description = "Not found (or not the caller's)", body = alleato_api::ErrorBody)))]
pub(crate) async fn update(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateChatRequest>,
) -> ApiResult<Json<ChatResponse>> {
    let update = ChatUpdate { title: body.title, visibility: body.visibility };
    let chat = state.services.chats.update(&who, parse_id(&id, "chat")?, update).await?;
    Ok(Json(ChatResponse { chat }))
}

#[utoipa::path(delete, operation_id = "deleteChat", path = "/api/v1/chats/{id}", tag = "chats", security(("bearer" = [])), params(("id" = String, Path, format = Uuid, description = "Chat id")), responses((status = 200, description = "Deleted with its messages and votes", body = alleato_api::Success), (status = 403, description = "Read-only for the caller", body = alleato_api::ErrorBody), (status = 404, description = "Not found (or not the caller's)", body = alleato_api::ErrorBody)))]
pub(crate) async fn delete(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Success>> {
    state.services.chats.delete(&who, parse_id(&id, "chat")?).await?;
    Ok(Json(Success::YES))
}

#[utoipa::path(delete, operation_id = "deleteAllChats", path = "/api/v1/chats", tag = "chats", security(("bearer" = [])), responses((status = 200, description = "All the caller's chats are deleted", body = alleato_api::DeletedCount)))]
pub(crate) async fn delete_all(State(state): State<AppState>, Auth(who): Auth) -> ApiResult<Json<DeletedCount>> {
    let deleted_count = state.services.chats.delete_all(&who).await?;
    Ok(Json(DeletedCount { deleted_count }))
}

#[utoipa::path(get, operation_id = "listChatVotes", path = "/api/v1/chats/{id}/votes", tag = "chats", security(("bearer" = [])), params(("id" = String, Path, format = Uuid, description = "Chat id")), responses((status = 200, description = "Votes on the chat's messages", body = alleato_api::VoteList), (status = 404, description = "Not found (or not the caller's)", body = alleato_api::ErrorBody)))]
pub(crate) async fn votes(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<VoteList>> {
    let votes = state.services.chats.votes(&who, parse_id(&id, "chat")?).await?;
    Ok(Json(VoteList { votes }))
}

#[utoipa::path(put, operation_id = "voteOnMessage", path = "/api/v1/chats/{id}/messages/{message_id}/vote", tag = "chats", security(("bearer" = [])), params(("id" = String, Path, format = Uuid, description = "Chat id"), ("message_id" = String, Path, format = Uuid, description = "Message id")), request_body = alleato_api::VoteRequest, responses((status = 200, description = "The vote, created or replaced", body = alleato_api::VoteResponse), (status = 403, description = "Read-only for the caller", body = alleato_api::ErrorBody), (status = 404, description = "Not found (or not the caller's)", body = alleato_api::ErrorBody)))]
pub(crate) async fn vote(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path((id, message_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<VoteRequest>,
) -> ApiResult<Json<VoteResponse>> {
    let chat: ChatId = parse_id(&id, "chat")?;
    let message: MessageId = parse_id(&message_id, "message")?;
    let vote = state.services.chats.vote(&who, chat, message, body.kind == VoteType::Up).await?;
    Ok(Json(VoteResponse { vote }))
}
