//! `GET /api/v1/openapi.json`: the whole API as OpenAPI 3.1, generated from the handlers'
//! `#[utoipa::path]` annotations and the wire types' schemas, then completed here with the error
//! answers every operation of a kind can give (so no annotation can forget one).

use std::sync::LazyLock;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde_json::{Value, json};
use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};

use super::{auth, chats, documents, files, generation, message_schema, streams, system, users};
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Alleato API",
        description = "AI chat backend: accounts and guest sessions, chats, messages, votes, versioned documents \
                       with suggestions, and file uploads. Errors are `{code, message}` with `code` = `kind:surface`."
    ),
    paths(
        auth::register, auth::login, auth::guest, auth::logout, auth::me,
        users::me, users::update, users::update_with_put, users::delete,
        chats::list, chats::create, chats::delete_all, chats::show, chats::update, chats::delete, chats::votes, chats::vote,
        documents::list, documents::save, documents::versions, documents::delete, documents::delete_after,
        documents::suggestions,
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

/// Rendered once: the spec cannot change while the process runs. Without an admin key the
/// admin routes do not exist (404), so the document served then does not list them.
static SPEC: LazyLock<String> = LazyLock::new(|| document().to_string());
static SPEC_WITHOUT_ADMIN: LazyLock<String> = LazyLock::new(|| {
    let mut doc = document();
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        paths.retain(|path, _| !path.starts_with("/admin/"));
    }
    if let Some(schemes) = doc.pointer_mut("/components/securitySchemes").and_then(Value::as_object_mut) {
        schemes.remove("api_key");
    }
    doc.to_string()
});

/// The whole document as JSON.
fn document() -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    add_send_message_schema(&mut doc);
    add_update_user_rule(&mut doc);
    make_create_chat_body_optional(&mut doc);
    add_common_responses(&mut doc);
    doc
}

/// `POST /chats/{id}/messages` reads its body by hand; its schema is written out apart.
fn add_send_message_schema(doc: &mut Value) {
    if let Some(schemas) = doc.pointer_mut("/components/schemas").and_then(Value::as_object_mut) {
        for (name, schema) in message_schema::components() {
            schemas.insert(name.to_owned(), schema);
        }
    }
    let body = "/paths/~1api~1v1~1chats~1{id}~1messages/post/requestBody/content/application~1json/schema";
    if let Some(schema) = doc.pointer_mut(body) {
        *schema = json!({ "$ref": "#/components/schemas/SendMessageRequest" });
    }
}

/// `PATCH /users/me` changes the email, the password or both: `currentPassword` alone changes
/// nothing (400), and `password` comes with `currentPassword` (a guest, which has no password,
/// may leave it out: the document asks for the stricter form). utoipa derives neither an `anyOf`
/// of `required` lists nor `dependentRequired`.
fn add_update_user_rule(doc: &mut Value) {
    if let Some(schema) = doc.pointer_mut("/components/schemas/UpdateUserRequest") {
        schema["anyOf"] = json!([{ "required": ["email"] }, { "required": ["password"] }]);
        schema["dependentRequired"] = json!({ "password": ["currentPassword"] });
    }
}

/// `POST /chats` may come without a body; utoipa marks a body optional only by making its schema
/// nullable too, and a `null` body is refused like any body that is not an object.
fn make_create_chat_body_optional(doc: &mut Value) {
    if let Some(body) = doc.pointer_mut("/paths/~1api~1v1~1chats/post/requestBody") {
        body["required"] = json!(false);
    }
}

/// The `{code, message}` answers that follow from what an operation is, not from what it does:
/// 400 for any input (path, query or body), 401 behind a credential, 413 anywhere (a declared
/// `Content-Length` past the route's limit is refused before routing), 415 for a JSON body, 429
/// under `/api/v1` (the rate limiter), 503 wherever a backend is reached. An operation's own
/// description of a status, when it has one, is kept.
fn add_common_responses(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else { return };
    for (path, item) in paths {
        let api = path.starts_with("/api/v1/");
        let reaches_backend = (api && path != "/api/v1/openapi.json") || path.starts_with("/admin/");
        let Some(item) = item.as_object_mut() else { continue };
        for operation in item.values_mut() {
            let has = |key: &str| operation.get(key).is_some_and(|v| !v.is_null());
            let secured = operation.get("security").and_then(Value::as_array).is_some_and(|s| !s.is_empty());
            let json_body = operation.pointer("/requestBody/content/application~1json").is_some();
            let mut common = Vec::new();
            if has("parameters") || has("requestBody") {
                common.push(("400", "Invalid input"));
            }
            if secured {
                common.push(("401", "Missing or invalid credentials"));
            }
            common.push(("413", "The body (or its declared `Content-Length`) is larger than this route accepts"));
            if json_body {
                common.push(("415", "The body is not `application/json`"));
            }
            if api {
                common.push(("429", "Rate limited (see `Retry-After`)"));
            }
            if reaches_backend {
                common.push(("503", "A backend is unavailable; retry later (see `Retry-After`)"));
            }
            let Some(responses) = operation.get_mut("responses").and_then(Value::as_object_mut) else { continue };
            for (status, description) in common {
                responses.entry(status).or_insert_with(|| error_response(description));
            }
        }
    }
}

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ErrorBody" } } }
    })
}

#[utoipa::path(get, operation_id = "getOpenApiDocument", path = "/api/v1/openapi.json", tag = "system", responses((status = 200, description = "This document")))]
pub(crate) async fn spec(State(state): State<AppState>) -> impl IntoResponse {
    let spec = if state.settings.admin_key.is_some() { &SPEC } else { &SPEC_WITHOUT_ADMIN };
    ([(header::CONTENT_TYPE, "application/json")], spec.as_str())
}
