use alleato_api::{
    CreateSuggestionsRequest, DeletedVersions, DocumentList, DocumentResponse, DocumentVersions, SaveDocumentRequest,
    SuggestionList, SuggestionResponse,
};
use alleato_core::ids::{DocumentId, SuggestionId};
use alleato_core::services::{NewDocument, NewSuggestion};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, Auth, Path, parse_id};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(list).post(save))
        .route("/{id}", get(versions).delete(delete))
        .route("/{id}/versions", axum::routing::delete(delete_after))
        .route("/{id}/suggestions", get(suggestions).post(suggest))
        .route("/{id}/suggestions/{sid}/resolve", post(resolve))
}

#[utoipa::path(get, operation_id = "listDocuments", path = "/api/v1/documents", tag = "documents", security(("bearer" = [])), responses((status = 200, description = "The latest version of each of the caller's documents", body = alleato_api::DocumentList)))]
pub(crate) async fn list(State(state): State<AppState>, Auth(who): Auth) -> ApiResult<Json<DocumentList>> {
    Ok(Json(DocumentList { documents: state.services.documents.list(&who).await? }))
}

#[utoipa::path(post, operation_id = "saveDocument", path = "/api/v1/documents", tag = "documents", security(("bearer" = [])), request_body = alleato_api::SaveDocumentRequest, responses((status = 201, description = "A new version", body = alleato_api::DocumentResponse), (status = 404, description = "Not found (or not the caller's)", body = alleato_api::ErrorBody), (status = 413, description = "Too large", body = alleato_api::ErrorBody)))]
pub(crate) async fn save(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiJson(body): ApiJson<SaveDocumentRequest>,
) -> ApiResult<(StatusCode, Json<DocumentResponse>)> {
    let new = NewDocument { id: body.id, title: body.title, kind: body.kind, content: body.content };
    let document = state.services.documents.save(&who, new).await?;
    Ok((StatusCode::CREATED, Json(DocumentResponse { document })))
}

#[utoipa::path(get, operation_id = "listDocumentVersions", path = "/api/v1/documents/{id}", tag = "documents", security(("bearer" = [])), params(("id" = String, Path, format = Uuid, description = "Document id")), responses((status = 200, description = "All versions, oldest first", body = alleato_api::DocumentVersions), (status = 404, description = "Not found (or not the caller's)", body = alleato_api::ErrorBody)))]
pub(crate) async fn versions(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<DocumentVersions>> {
    let versions = state.services.documents.versions(&who, parse_id::<DocumentId>(&id, "document")?).await?;
    Ok(Json(DocumentVersions { versions }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AfterQuery {
    /// RFC 3339; `timestamp` is the original app's name for it.
    #[serde(alias = "timestamp")]
    after: Option<String>,
}

/// No query parameter: `after` belongs to `DELETE /documents/{id}/versions`, and a client that
/// sends it here (as the route once took it) gets a 400, not the whole document deleted.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NoQuery {}

#[utoipa::path(delete, operation_id = "deleteDocument", path = "/api/v1/documents/{id}", tag = "documents", security(("bearer" = [])), params(("id" = String, Path, format = Uuid, description = "Document id")), responses((status = 200, description = "The document is gone: every version (returned) and its suggestions", body = alleato_api::DeletedVersions), (status = 404, description = "Not found (or not the caller's)", body = alleato_api::ErrorBody)))]
pub(crate) async fn delete(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    ApiQuery(NoQuery {}): ApiQuery<NoQuery>,
) -> ApiResult<Json<DeletedVersions>> {
    let deleted = state.services.documents.delete(&who, parse_id(&id, "document")?).await?;
    Ok(Json(DeletedVersions { deleted }))
}

#[utoipa::path(delete, operation_id = "deleteDocumentVersionsAfter", path = "/api/v1/documents/{id}/versions", tag = "documents", security(("bearer" = [])), params(("id" = String, Path, format = Uuid, description = "Document id"), ("after" = String, Query, format = DateTime, description = "RFC 3339 timestamp; the versions saved after it are deleted, with their suggestions")), responses((status = 200, description = "The deleted versions; the document itself stays, at the version current at `after`", body = alleato_api::DeletedVersions), (status = 404, description = "Not found (or not the caller's)", body = alleato_api::ErrorBody), (status = 409, description = "`after` is before the first version (`conflict:document`): no version to restore; `DELETE /api/v1/documents/{id}` deletes the document", body = alleato_api::ErrorBody)))]
pub(crate) async fn delete_after(
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

#[utoipa::path(get, operation_id = "listSuggestions", path = "/api/v1/documents/{id}/suggestions", tag = "documents", security(("bearer" = [])), params(("id" = String, Path, format = Uuid, description = "Document id")), responses((status = 200, description = "Suggestions, oldest first", body = alleato_api::SuggestionList), (status = 404, description = "Not found (or not the caller's)", body = alleato_api::ErrorBody)))]
pub(crate) async fn suggestions(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<SuggestionList>> {
    let suggestions = state.services.documents.suggestions(&who, parse_id(&id, "document")?).await?;
    Ok(Json(SuggestionList { suggestions }))
}

#[utoipa::path(post, operation_id = "createSuggestions", path = "/api/v1/documents/{id}/suggestions", tag = "documents", security(("bearer" = [])), params(("id" = String, Path, format = Uuid, description = "Document id")), request_body = alleato_api::CreateSuggestionsRequest, responses((status = 201, description = "Added to the latest version", body = alleato_api::SuggestionList), (status = 404, description = "Not found (or not the caller's)", body = alleato_api::ErrorBody)))]
pub(crate) async fn suggest(
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

#[utoipa::path(post, operation_id = "resolveSuggestion", path = "/api/v1/documents/{id}/suggestions/{sid}/resolve", tag = "documents", security(("bearer" = [])), params(("id" = String, Path, format = Uuid, description = "Document id"), ("sid" = String, Path, format = Uuid, description = "Suggestion id")), responses((status = 200, description = "Resolved", body = alleato_api::SuggestionResponse), (status = 404, description = "Not found (or not the caller's)", body = alleato_api::ErrorBody)))]
pub(crate) async fn resolve(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path((id, sid)): Path<(String, String)>,
) -> ApiResult<Json<SuggestionResponse>> {
    let document: DocumentId = parse_id(&id, "document")?;
    let suggestion: SuggestionId = parse_id(&sid, "suggestion")?;
    let suggestion = state.services.documents.resolve(&who, document, suggestion).await?;
    Ok(Json(SuggestionResponse { suggestion }))
}
