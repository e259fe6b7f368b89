use alleato_api::{
    CreateSuggestionsRequest, DeletedVersions, DocumentList, DocumentResponse, DocumentVersions, SaveDocumentRequest,
    SuggestionList, SuggestionResponse,
};
use alleato_core::ids::{DocumentId, SuggestionId};
use alleato_core::services::{NewDocument, NewSuggestion};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, Auth, parse_id};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(list).post(save))
        .route("/{id}", get(versions).delete(delete_after))
        .route("/{id}/suggestions", get(suggestions).post(suggest))
        .route("/{id}/suggestions/{sid}/resolve", post(resolve))
}

async fn list(State(state): State<AppState>, Auth(who): Auth) -> ApiResult<Json<DocumentList>> {
    Ok(Json(DocumentList { documents: state.services.documents.list(&who).await? }))
}

async fn save(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiJson(body): ApiJson<SaveDocumentRequest>,
) -> ApiResult<(StatusCode, Json<DocumentResponse>)> {
    let new = NewDocument { id: body.id, title: body.title, kind: body.kind, content: body.content };
    let document = state.services.documents.save(&who, new).await?;
    Ok((StatusCode::CREATED, Json(DocumentResponse { document })))
}

async fn versions(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<DocumentVersions>> {
    let versions = state.services.documents.versions(&who, parse_id::<DocumentId>(&id, "document")?).await?;
    Ok(Json(DocumentVersions { versions }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AfterQuery {
    /// RFC 3339; `timestamp` is the original app's name for it.
    #[serde(alias = "timestamp")]
    after: Option<String>,
}

async fn delete_after(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<AfterQuery>,
) -> ApiResult<Json<DeletedVersions>> {
    let id: DocumentId = parse_id(&id, "document")?;
    let raw =
        q.after.ok_or_else(|| ApiError::bad_request("Query parameter `after` (an RFC 3339 timestamp) is required."))?;
    let after = alleato_core::time::parse(&raw)
        .ok_or_else(|| ApiError::bad_request("`after` must be an RFC 3339 timestamp such as 2026-01-01T00:00:00Z."))?;
    let deleted = state.services.documents.delete_after(&who, id, after).await?;
    Ok(Json(DeletedVersions { deleted }))
}

async fn suggestions(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<SuggestionList>> {
    let suggestions = state.services.documents.suggestions(&who, parse_id(&id, "document")?).await?;
    Ok(Json(SuggestionList { suggestions }))
}

async fn suggest(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CreateSuggestionsRequest>,
) -> ApiResult<(StatusCode, Json<SuggestionList>)> {
    let inputs = match body {
        CreateSuggestionsRequest::Many { suggestions } => suggestions,
        CreateSuggestionsRequest::One(one) => vec![one],
    };
    let new = inputs
        .into_iter()
        .map(|s| NewSuggestion {
            original_text: s.original_text,
            suggested_text: s.suggested_text,
            description: s.description,
        })
        .collect();
    let suggestions = state.services.documents.suggest(&who, parse_id(&id, "document")?, new).await?;
    Ok((StatusCode::CREATED, Json(SuggestionList { suggestions })))
}

async fn resolve(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path((id, sid)): Path<(String, String)>,
) -> ApiResult<Json<SuggestionResponse>> {
    let document: DocumentId = parse_id(&id, "document")?;
    let suggestion: SuggestionId = parse_id(&sid, "suggestion")?;
    let suggestion = state.services.documents.resolve(&who, document, suggestion).await?;
    Ok(Json(SuggestionResponse { suggestion }))
}
