//! `GET /api/v1/openapi.json`: the whole API as OpenAPI 3.1, generated from the handlers'
//! `#[utoipa::path]` annotations and the wire types' schemas.

use std::sync::LazyLock;

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};

use super::{auth, chats, documents, files, generation, streams, system, users};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Alleato API",
        description = "AI chat backend: accounts and guest sessions, chats, messages, votes, versioned documents \
                       with suggestions, and file uploads. Errors are `{code, message}` with `code` = `kind:surface`."
    ),
    paths(
        auth::register, auth::login, auth::guest, auth::logout, auth::me,
        users::me, users::update, users::delete,
        chats::list, chats::create, chats::delete_all, chats::show, chats::update, chats::delete, chats::votes, chats::vote,
        documents::list, documents::save, documents::versions, documents::delete_after, documents::suggestions,
        documents::suggest, documents::resolve,
        generation::send, generation::resume, generation::stop, generation::delete_after,
        streams::create, streams::show, streams::append, streams::delete,
        files::upload, files::show, files::content, files::delete,
        system::ping, system::health, system::ready, system::stats, spec,
    ),
    modifiers(&SecuritySchemes),
)]
pub struct ApiDoc;

struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
        components
            .add_security_scheme("api_key", SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))));
    }
}

/// Rendered once: the spec cannot change while the process runs.
static SPEC: LazyLock<String> = LazyLock::new(|| ApiDoc::openapi().to_json().unwrap_or_else(|_| "{}".to_owned()));

#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "system", responses((status = 200, description = "This document")))]
pub(crate) async fn spec() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], SPEC.as_str())
}
