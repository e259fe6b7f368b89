use alleato_api::{Success, UpdateUserRequest, UserResponse};
use alleato_core::services::UserUpdate;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use crate::error::ApiResult;
use crate::extract::{ApiJson, Auth};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    // PUT is kept beside PATCH: the original backend used PUT for the same change.
    Router::new().route("/me", get(me).patch(update).put(update).delete(delete))
}

#[utoipa::path(get, path = "/api/v1/users/me", tag = "users", security(("bearer" = [])), responses((status = 200, description = "The caller", body = alleato_api::UserResponse), (status = 401, description = "Not signed in", body = alleato_api::ErrorBody)))]
pub(crate) async fn me(Auth(who): Auth) -> Json<UserResponse> {
    Json(UserResponse { user: who.user })
}

#[utoipa::path(patch, path = "/api/v1/users/me", tag = "users", security(("bearer" = [])), request_body = alleato_api::UpdateUserRequest, responses((status = 200, description = "Updated (PUT is accepted too)", body = alleato_api::UserResponse), (status = 400, description = "Invalid input", body = alleato_api::ErrorBody), (status = 401, description = "Not signed in", body = alleato_api::ErrorBody), (status = 409, description = "Conflict", body = alleato_api::ErrorBody)))]
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

#[utoipa::path(delete, path = "/api/v1/users/me", tag = "users", security(("bearer" = [])), responses((status = 200, description = "The account and all it owns are deleted", body = alleato_api::Success), (status = 401, description = "Not signed in", body = alleato_api::ErrorBody)))]
pub(crate) async fn delete(State(state): State<AppState>, Auth(who): Auth) -> ApiResult<Json<Success>> {
    state.services.users.delete(&who).await?;
    Ok(Json(Success::YES))
}
