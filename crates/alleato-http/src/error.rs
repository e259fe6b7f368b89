//! The one place that turns errors into HTTP responses: `{code, message}` with the status that
//! fits the kind. 5xx causes are logged with their whole chain and never reach the body.

use alleato_api::ErrorBody;
use alleato_core::{Error, Surface};
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// An error on its way to the client.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        Self(err)
    }
}

impl ApiError {
    /// A 400 `bad_request:api`: the request itself is malformed (a query, a path, a body).
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self(Error::bad_request(Surface::Api, message.into()))
    }

    /// A 404 `not_found:api` for a route that does not exist (or is switched off).
    pub fn not_found_route() -> Self {
        Self(Error::NotFound { surface: Surface::Api, message: "No such route.".into() })
    }
}

pub fn status_of(err: &Error) -> StatusCode {
    match err {
        Error::BadRequest { .. } => StatusCode::BAD_REQUEST,
        Error::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
        Error::Forbidden { .. } => StatusCode::FORBIDDEN,
        Error::NotFound { .. } => StatusCode::NOT_FOUND,
        Error::Conflict { .. } => StatusCode::CONFLICT,
        Error::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        Error::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        Error::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        Error::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        Error::Upstream { .. } => StatusCode::BAD_GATEWAY,
        Error::Backend { .. } => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The cause chain, for logs only.
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let err = self.0;
        let status = status_of(&err);
        if err.is_internal() {
            tracing::error!(code = %err.code(), error = %chain(&err), "request failed");
        }
        let body = ErrorBody { code: err.code(), message: err.public_message() };
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        match &err {
            Error::RateLimited { retry_after_secs, .. } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            Error::Unauthorized { .. } => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Error::Unavailable { .. } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            _ => {}
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
