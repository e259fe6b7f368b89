use alleato_api::{AuthResponse, Credentials, Success, UserResponse};
use alleato_core::services::IssuedSession;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};

use crate::error::ApiResult;
use crate::extract::{ApiJson, Auth};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/register", post(register))
        .route("/login", post(login))
        .route("/guest", post(guest))
        .route("/logout", post(logout))
        .route("/me", get(me))
}

fn issued(session: IssuedSession) -> AuthResponse {
    AuthResponse { user: session.user, token: session.token }
}

#[utoipa::path(post, operation_id = "register", path = "/api/v1/auth/register", tag = "auth", request_body = alleato_api::Credentials, responses((status = 201, description = "Registered and signed in", body = alleato_api::AuthResponse), (status = 409, description = "Conflict", body = alleato_api::ErrorBody), (status = 503, description = "Too many password checks are waiting (`unavailable:auth`), or a backend is unavailable; retry after `Retry-After`", body = alleato_api::ErrorBody)))]
pub(crate) async fn register(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<Credentials>,
) -> ApiResult<(StatusCode, Json<AuthResponse>)> {
    let session = state.services.auth.register(&body.email, body.password).await?;
    Ok((StatusCode::CREATED, Json(issued(session))))
}

#[utoipa::path(post, operation_id = "login", path = "/api/v1/auth/login", tag = "auth", request_body = alleato_api::Credentials, responses((status = 200, description = "Signed in", body = alleato_api::AuthResponse), (status = 401, description = "Wrong email or password", body = alleato_api::ErrorBody), (status = 503, description = "Too many password checks are waiting (`unavailable:auth`), or a backend is unavailable; retry after `Retry-After`", body = alleato_api::ErrorBody)))]
pub(crate) async fn login(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<Credentials>,
) -> ApiResult<Json<AuthResponse>> {
    Ok(Json(issued(state.services.auth.login(&body.email, body.password).await?)))
}

#[utoipa::path(post, operation_id = "createGuestSession", path = "/api/v1/auth/guest", tag = "auth", responses((status = 201, description = "A new guest session", body = alleato_api::AuthResponse)))]
pub(crate) async fn guest(State(state): State<AppState>) -> ApiResult<(StatusCode, Json<AuthResponse>)> {
    Ok((StatusCode::CREATED, Json(issued(state.services.auth.guest().await?))))
}

#[utoipa::path(post, operation_id = "logout", path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])), responses((status = 200, description = "The token is revoked", body = alleato_api::Success)))]
pub(crate) async fn logout(State(state): State<AppState>, Auth(who): Auth) -> ApiResult<Json<Success>> {
    state.services.auth.logout(&who).await?;
    Ok(Json(Success::YES))
}

#[utoipa::path(get, operation_id = "getSessionUser", path = "/api/v1/auth/me", tag = "auth", security(("bearer" = [])), responses((status = 200, description = "The caller", body = alleato_api::UserResponse)))]
pub(crate) async fn me(Auth(who): Auth) -> Json<UserResponse> {
    Json(UserResponse { user: who.user })
}
