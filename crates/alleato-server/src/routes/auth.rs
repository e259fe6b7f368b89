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

async fn register(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<Credentials>,
) -> ApiResult<(StatusCode, Json<AuthResponse>)> {
    let session = state.services.auth.register(&body.email, body.password).await?;
    Ok((StatusCode::CREATED, Json(issued(session))))
}

async fn login(State(state): State<AppState>, ApiJson(body): ApiJson<Credentials>) -> ApiResult<Json<AuthResponse>> {
    Ok(Json(issued(state.services.auth.login(&body.email, body.password).await?)))
}

async fn guest(State(state): State<AppState>) -> ApiResult<(StatusCode, Json<AuthResponse>)> {
    Ok((StatusCode::CREATED, Json(issued(state.services.auth.guest().await?))))
}

async fn logout(State(state): State<AppState>, Auth(who): Auth) -> ApiResult<Json<Success>> {
    state.services.auth.logout(&who).await?;
    Ok(Json(Success::YES))
}

async fn me(Auth(who): Auth) -> Json<UserResponse> {
    Json(UserResponse { user: who.user })
}
