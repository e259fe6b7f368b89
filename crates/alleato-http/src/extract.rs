//! Extractors that turn every malformed input into a clear `{code, message}` 4xx: bodies that
//! are not JSON, JSON of the wrong shape, oversized bodies, bad ids, and missing credentials.

use std::str::FromStr;

use alleato_core::services::Principal;
use alleato_core::{Error, Surface};
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::state::AppState;

/// A JSON object body; rejections become `bad_request:api` (400), `unsupported_media_type:api`
/// (415) or `payload_too_large:api` (413).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = is_json(&req);
        let bytes = body(req, state).await?;
        if !is_json {
            return Err(not_json());
        }
        parse_object(&bytes).map(Self)
    }
}

/// Any JSON value as the body (`POST /streams/{id}/append`).
pub struct AnyJson(pub serde_json::Value);

impl<S: Send + Sync> FromRequest<S> for AnyJson {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

/// `T` read from a JSON object, in one pass over the bytes. Every request body the API
/// documents is an object, but serde also reads a struct from an array of its fields
/// (`[null, null]`): this takes an object only.
struct Object<T>(T);

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Object<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Fields<T>(std::marker::PhantomData<T>);
        impl<'de, T: serde::Deserialize<'de>> serde::de::Visitor<'de> for Fields<T> {
            type Value = T;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }
        deserializer.deserialize_map(Fields(std::marker::PhantomData)).map(Object)
    }
}

fn parse_object<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice::<Object<T>>(bytes).map(|Object(value)| value).map_err(|e| {
        let text = e.to_string();
        let text = truncate(&text, 300);
        ApiError::bad_request(match e.classify() {
            serde_json::error::Category::Data => format!("The JSON body has the wrong shape: {text}"),
            _ => format!("The body is not valid JSON: {text}"),
        })
    })
}

/// Whether the request says its body is JSON (`application/json` or `application/*+json`).
fn is_json(req: &Request) -> bool {
    req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).and_then(|v| v.split(';').next()).is_some_and(
        |mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
        },
    )
}

/// The whole body, within the route's limit.
async fn body<S: Send + Sync>(req: Request, state: &S) -> Result<bytes::Bytes, ApiError> {
    bytes::Bytes::from_request(req, state).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError(Error::PayloadTooLarge {
                surface: Surface::Api,
                message: "The request body is larger than the server accepts.".into(),
            })
        } else {
            ApiError::bad_request(format!("The request body could not be read: {}", e.body_text()))
        }
    })
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    let err = match rejection {
        JsonRejection::MissingJsonContentType(_) => return not_json(),
        JsonRejection::JsonSyntaxError(e) => {
            Error::bad_request(Surface::Api, format!("The body is not valid JSON: {}", e.body_text_inner()))
        }
        JsonRejection::JsonDataError(e) => {
            Error::bad_request(Surface::Api, format!("The JSON body has the wrong shape: {}", e.body_text_inner()))
        }
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Error::PayloadTooLarge {
            surface: Surface::Api,
            message: "The request body is larger than the server accepts.".into(),
        },
        other => Error::bad_request(Surface::Api, format!("The request body could not be read: {}", other.body_text())),
    };
    ApiError(err)
}

fn not_json() -> ApiError {
    ApiError(Error::UnsupportedMediaType {
        surface: Surface::Api,
        message: "Expected a JSON body with Content-Type: application/json.".into(),
    })
}

trait InnerText {
    fn body_text_inner(&self) -> String;
}

impl<E: std::error::Error> InnerText for E {
    /// serde's message without axum's "Failed to deserialize..." prefix, trimmed for the body.
    fn body_text_inner(&self) -> String {
        let text = self.source().map(ToString::to_string).unwrap_or_else(|| self.to_string());
        truncate(&text, 300).to_owned()
    }
}

/// Query parameters; a rejection is a `bad_request:api`.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => {
                Err(ApiError::bad_request(format!("Invalid query string: {}", e.body_text_inner())))
            }
            Err(other) => Err(ApiError::bad_request(other.body_text())),
        }
    }
}

/// Path parameters; a rejection (a segment that is not UTF-8 once percent-decoded, say) is a
/// `bad_request:api` with the JSON body, like every other bad input, not axum's plain text.
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Self(value)),
            Err(rejection) => Err(ApiError::bad_request(format!("Invalid path: {}", rejection.body_text_inner()))),
        }
    }
}

/// Parses a path segment as an id, naming what was expected. Only the hyphenated form the API
/// documents (`format: uuid`) is taken, not the other spellings the uuid crate reads.
pub fn parse_id<T: FromStr>(raw: &str, what: &str) -> Result<T, ApiError> {
    const HYPHENATED_LEN: usize = 36;
    let invalid = || ApiError::bad_request(format!("Invalid {what} id `{}`: expected a UUID.", truncate(raw, 64)));
    if raw.len() != HYPHENATED_LEN {
        return Err(invalid());
    }
    raw.parse().map_err(|_| invalid())
}

fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

/// The signed-in caller, from `Authorization: Bearer <token>`.
pub struct Auth(pub Principal);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let missing = || ApiError(Error::unauthorized(Surface::Auth, "You need to sign in before continuing."));
        let header = parts.headers.get(header::AUTHORIZATION).ok_or_else(missing)?;
        let value = header.to_str().map_err(|_| missing())?;
        // The scheme is case-insensitive (RFC 9110, section 11.1): `Bearer`, `bearer`, `BEARER`.
        let token = value
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .filter(|t| !t.is_empty() && t.len() <= 4096)
            .ok_or_else(|| {
                ApiError(Error::unauthorized(Surface::Auth, "Send the token as `Authorization: Bearer <token>`."))
            })?;
        let principal = state.services.auth.authenticate(token).await?;
        Ok(Auth(principal))
    }
}

/// Like [`ApiJson`], but no body at all means `T::default()` (e.g. `POST /chats` with no body).
/// A body that is there must be an object, as everywhere: JSON `null` is a 400, not "no body".
pub struct ApiJsonOrDefault<T>(pub T);

impl<T: DeserializeOwned + Default, S: Send + Sync> FromRequest<S> for ApiJsonOrDefault<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = is_json(&req);
        let bytes = body(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(T::default()));
        }
        if !is_json {
            return Err(not_json());
        }
        parse_object(&bytes).map(Self)
    }
}
