use alleato_api::{
    ChatList, ChatResponse, ChatWithMessages, CreateChatRequest, DeletedCount, Success, UpdateChatRequest, VoteList,
    VoteRequest, VoteResponse, VoteType,
};
use alleato_core::ids::{ChatId, MessageId};
use alleato_core::model::{ChatCursorDirection, ChatPage};
use alleato_core::services::{ChatUpdate, NewChat};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::Deserialize;

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiJsonOrDefault, ApiQuery, Auth, parse_id};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(list).post(create).delete(delete_all))
        .route("/{id}", get(show).patch(update).delete(delete))
        .route("/{id}/votes", get(votes))
        .route("/{id}/messages/{message_id}/vote", put(vote))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<u32>,
    starting_after: Option<String>,
    ending_before: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<ChatList>> {
    let cursor = match (q.starting_after, q.ending_before) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request("Only one of starting_after or ending_before can be provided."));
        }
        (Some(id), None) => Some((ChatCursorDirection::StartingAfter, parse_id::<ChatId>(&id, "chat")?)),
        (None, Some(id)) => Some((ChatCursorDirection::EndingBefore, parse_id::<ChatId>(&id, "chat")?)),
        (None, None) => None,
    };
    let page = ChatPage { limit: q.limit.unwrap_or(ChatPage::DEFAULT_LIMIT), cursor };
    let (chats, has_more) = state.services.chats.list(&who, page).await?;
    Ok(Json(ChatList { chats, has_more }))
}

async fn create(
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

async fn show(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<ChatWithMessages>> {
    let (chat, messages) = state.services.chats.get(&who, parse_id(&id, "chat")?).await?;
    Ok(Json(ChatWithMessages { chat, messages }))
}

async fn update(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateChatRequest>,
) -> ApiResult<Json<ChatResponse>> {
    let update = ChatUpdate { title: body.title, visibility: body.visibility };
    let chat = state.services.chats.update(&who, parse_id(&id, "chat")?, update).await?;
    Ok(Json(ChatResponse { chat }))
}

async fn delete(State(state): State<AppState>, Auth(who): Auth, Path(id): Path<String>) -> ApiResult<Json<Success>> {
    state.services.chats.delete(&who, parse_id(&id, "chat")?).await?;
    Ok(Json(Success::YES))
}

async fn delete_all(State(state): State<AppState>, Auth(who): Auth) -> ApiResult<Json<DeletedCount>> {
    let deleted_count = state.services.chats.delete_all(&who).await?;
    Ok(Json(DeletedCount { deleted_count }))
}

async fn votes(State(state): State<AppState>, Auth(who): Auth, Path(id): Path<String>) -> ApiResult<Json<VoteList>> {
    let votes = state.services.chats.votes(&who, parse_id(&id, "chat")?).await?;
    Ok(Json(VoteList { votes }))
}

async fn vote(
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
