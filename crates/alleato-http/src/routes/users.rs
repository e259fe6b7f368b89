use alleato_api::{Success, UpdateUserRequest, UserResponse};
use alleato_core::services::UserUpdate;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use crate::error::ApiResult;
use crate::extract::{ApiJson, Auth};
use crate::state::AppState;

// PUT is kept beside PATCH: the original backend used PUT for the same change.
#[allow(deprecated)]
pub fn routes() -> Router<AppState> {
    Router::new().route("/me", get(me).patch(update).put(update_with_put).delete(delete))
}

#[utoipa::path(get, operation_id = "getCurrentUser", path = "/api/v1/users/me", tag = "users", security(("bearer" = [])), responses((status = 200, description = "The caller", body = alleato_api::UserResponse)))]
pub(crate) async fn me(Auth(who): Auth) -> Json<UserResponse> {
    Json(UserResponse { user: who.user })
}

#[utoipa::path(patch, operation_id = "updateCurrentUser", path = "/api/v1/users/me", tag = "users", security(("bearer" = [])), request_body = alleato_api::UpdateUserRequest, responses((status = 200, description = "Updated (PUT is accepted too)", body = alleato_api::UserResponse), (status = 400, description = "Invalid input, or `password` without `currentPassword` on an account that has a password", body = alleato_api::ErrorBody), (status = 401, description = "Missing or invalid credentials; a password change ends every other session of the account", body = alleato_api::ErrorBody), (status = 403, description = "`currentPassword` is not the account's password", body = alleato_api::ErrorBody), (status = 409, description = "Conflict", body = alleato_api::ErrorBody), (status = 503, description = "Too many password checks are waiting (`unavailable:auth`), or a backend is unavailable; retry after `Retry-After`", body = alleato_api::ErrorBody)))]
pub(crate) async fn update(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiJson(body): ApiJson<UpdateUserRequest>,
) -> ApiResult<Json<UserResponse>> {
    let user = state
        .services
        .users
        .update(
            &who,
            UserUpdate { email: body.email, password: body.password, current_password: body.current_password },
        )
        .await?;
    Ok(Json(UserResponse { user }))
}

/// The original backend's method for the same change; documented apart so each operation keeps one id.
#[utoipa::path(put, operation_id = "updateCurrentUserWithPut", path = "/api/v1/users/me", tag = "users", security(("bearer" = [])), request_body = alleato_api::UpdateUserRequest, responses((status = 200, description = "Updated; the same as PATCH", body = alleato_api::UserResponse), (status = 400, description = "Invalid input, or `password` without `currentPassword` on an account that has a password", body = alleato_api::ErrorBody), (status = 401, description = "Missing or invalid credentials; a password change ends every other session of the account", body = alleato_api::ErrorBody), (status = 403, description = "`currentPassword` is not the account's password", body = alleato_api::ErrorBody), (status = 409, description = "Conflict", body = alleato_api::ErrorBody), (status = 503, description = "Too many password checks are waiting (`unavailable:auth`), or a backend is unavailable; retry after `Retry-After`", body = alleato_api::ErrorBody)))]
#[deprecated = "use PATCH /api/v1/users/me"]
pub(crate) async fn update_with_put(
    state: State<AppState>,
    who: Auth,
    body: ApiJson<UpdateUserRequest>,
) -> ApiResult<Json<UserResponse>> {
    update(state, who, body).await
}

#[utoipa::path(delete, operation_id = "deleteCurrentUser", path = "/api/v1/users/me", tag = "users", security(("bearer" = [])), responses((status = 200, description = "The account and all it owns are deleted", body = alleato_api::Success)))]
pub(crate) async fn delete(State(state): State<AppState>, Auth(who): Auth) -> ApiResult<Json<Success>> {
    state.services.users.delete(&who).await?;
    Ok(Json(Success::YES))
}
