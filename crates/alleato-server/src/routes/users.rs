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

async fn me(Auth(who): Auth) -> Json<UserResponse> {
    Json(UserResponse { user: who.user })
}

async fn update(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiJson(body): ApiJson<UpdateUserRequest>,
) -> ApiResult<Json<UserResponse>> {
    let user = state.services.users.update(&who, UserUpdate { email: body.email, password: body.password }).await?;
    Ok(Json(UserResponse { user }))
}

async fn delete(State(state): State<AppState>, Auth(who): Auth) -> ApiResult<Json<Success>> {
    state.services.users.delete(&who).await?;
    Ok(Json(Success::YES))
}
