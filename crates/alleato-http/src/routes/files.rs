use alleato_api::{FileResponse, FileView, Success};
use alleato_core::ids::{ChatId, FileId};
use alleato_core::model::FileMeta;
use alleato_core::services::Upload;
use alleato_core::{Error, Surface};
use axum::body::Body;
use axum::extract::multipart::{MultipartError, MultipartRejection};
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};

use crate::error::{ApiError, ApiResult};
use crate::extract::{Auth, Path, parse_id};
use crate::state::AppState;

pub fn routes(max_upload_bytes: u64) -> Router<AppState> {
    // Room for the multipart framing and the small text fields around the file.
    let limit = super::upload_body_limit(max_upload_bytes);
    Router::new()
        .route("/upload", post(upload).layer(DefaultBodyLimit::max(limit)))
        .route("/{id}", get(show).delete(delete))
        .route("/{id}/content", get(content))
}

fn content_url(id: FileId) -> String {
    format!("/api/v1/files/{id}/content")
}

/// The view of a file, with a signed download URL when the storage offers one.
async fn view(state: &AppState, meta: FileMeta) -> FileView {
    let download = state.services.files.download_url(&meta).await;
    let url = content_url(meta.id);
    FileView::new(meta, url).with_download_url(download.map(|d| (d.url, d.expires_at)))
}

fn multipart_error(err: MultipartError) -> ApiError {
    if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError(Error::PayloadTooLarge {
            surface: Surface::File,
            message: "The upload is larger than the server accepts.".into(),
        });
    }
    ApiError(Error::bad_request(Surface::File, format!("The multipart body could not be read: {}", err.body_text())))
}

/// The form `upload` reads by hand (to bound it and check the type by content); described here
/// for the document only.
#[derive(utoipa::ToSchema, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct UploadForm {
    /// JPEG, PNG, GIF, WebP or PDF, recognised by its content; at most `max_upload_bytes` (10 MB by default).
    #[schema(value_type = String, format = Binary, min_length = 1)]
    file: Vec<u8>,
    /// The chat the file belongs to.
    #[schema(nullable = false)]
    chat_id: Option<alleato_api::ChatId>,
}

#[utoipa::path(post, operation_id = "uploadFile", path = "/api/v1/files/upload", tag = "files", security(("bearer" = [])), request_body(content((UploadForm = "multipart/form-data", encoding(("file" = (content_type = "image/jpeg, image/png, image/gif, image/webp, application/pdf")))))), responses((status = 201, description = "Stored", body = alleato_api::FileView), (status = 403, description = "`chatId` names someone else's public chat: read-only for the caller", body = alleato_api::ErrorBody), (status = 404, description = "`chatId` names no chat the caller can see", body = alleato_api::ErrorBody), (status = 413, description = "Too large", body = alleato_api::ErrorBody), (status = 415, description = "Not a JPEG, PNG, GIF, WebP or PDF by its content, or the part's declared type is not the content's (`application/octet-stream` or none: recognised from the content)", body = alleato_api::ErrorBody)))]
pub(crate) async fn upload(
    State(state): State<AppState>,
    Auth(who): Auth,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<(StatusCode, Json<FileView>)> {
    let mut multipart = multipart.map_err(|e| {
        ApiError(Error::bad_request(Surface::File, format!("Expected a multipart/form-data body: {}", e.body_text())))
    })?;
    let mut file: Option<(Option<String>, Option<String>, bytes::Bytes)> = None;
    let mut chat_id: Option<ChatId> = None;
    let mut fields = 0;
    while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
        fields += 1;
        if fields > 8 {
            return Err(ApiError(Error::bad_request(Surface::File, "Too many form fields.")));
        }
        match field.name() {
            Some("file") if file.is_none() => {
                let name = field.file_name().map(str::to_owned);
                let declared = field.content_type().map(str::to_owned);
                let bytes = field.bytes().await.map_err(multipart_error)?;
                file = Some((name, declared, bytes));
            }
            Some("file") => return Err(ApiError(Error::bad_request(Surface::File, "Send one file per upload."))),
            Some("chatId") => {
                let text = field.text().await.map_err(multipart_error)?;
                chat_id = Some(parse_id(text.trim(), "chat")?);
            }
            // The original clients send no other field; the document allows none.
            _ => {
                return Err(ApiError(Error::bad_request(Surface::File, "Send only the fields `file` and `chatId`.")));
            }
        }
    }
    let (name, declared_type, bytes) = file.ok_or_else(|| {
        ApiError(Error::bad_request(Surface::File, "No file uploaded: send it in the multipart field `file`."))
    })?;
    let meta = state.services.files.upload(&who, Upload { name, declared_type, bytes, chat_id }).await?;
    Ok((StatusCode::CREATED, Json(view(&state, meta).await)))
}

#[utoipa::path(get, operation_id = "getFile", path = "/api/v1/files/{id}", tag = "files", security(("bearer" = [])), params(("id" = String, Path, format = Uuid, description = "File id")), responses((status = 200, description = "Metadata", body = alleato_api::FileResponse), (status = 404, description = "Not found (or not the caller's)", body = alleato_api::ErrorBody)))]
pub(crate) async fn show(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<FileResponse>> {
    let meta = state.services.files.meta(&who, parse_id(&id, "file")?).await?;
    Ok(Json(FileResponse { file: view(&state, meta).await }))
}

#[utoipa::path(get, operation_id = "getFileContent", path = "/api/v1/files/{id}/content", tag = "files", security(("bearer" = [])), params(("id" = String, Path, format = Uuid, description = "File id")), responses((status = 200, description = "The bytes, with their content type"), (status = 404, description = "Not found (or not the caller's)", body = alleato_api::ErrorBody)))]
pub(crate) async fn content(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let (meta, object) = state.services.files.content(&who, parse_id(&id, "file")?).await?;
    let mut response = Response::new(Body::from(object.bytes));
    let headers = response.headers_mut();
    // The type checked at upload, never one derived from the bytes or the name now.
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&meta.content_type).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    headers.insert(header::CONTENT_DISPOSITION, content_disposition(&meta.name));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=3600"));
    // A PDF or image opened directly must not run script against this origin.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; img-src 'self'; sandbox"),
    );
    Ok(response)
}

fn content_disposition(name: &str) -> HeaderValue {
    HeaderValue::from_str(&alleato_core::services::content_disposition(name))
        .unwrap_or(HeaderValue::from_static("inline"))
}

#[utoipa::path(delete, operation_id = "deleteFile", path = "/api/v1/files/{id}", tag = "files", security(("bearer" = [])), params(("id" = String, Path, format = Uuid, description = "File id")), responses((status = 200, description = "Deleted, metadata and bytes", body = alleato_api::Success), (status = 404, description = "Not found (or not the caller's)", body = alleato_api::ErrorBody)))]
pub(crate) async fn delete(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Success>> {
    state.services.files.delete(&who, parse_id(&id, "file")?).await?;
    Ok(Json(Success::YES))
}
