//! The request body of `POST /chats/{id}/messages` as JSON Schema. The server reads it by hand
//! (`generation.rs`: three client shapes, parts kept as their JSON), so no derived schema can
//! say what it accepts; this states the same rules, as far as JSON Schema can:
//! `alleato_core::model::MessagePart` (part shapes), `services::incoming` (file URLs) and the
//! generation service's `check_parts` (non-empty, not blank). One rule is stated in words
//! only: the length limit (every string of every part counts). Rules by position ("the last
//! item") are none JSON Schema can state, so the server has none: in `messages`, every user
//! message must be a valid new one, and the last of them is answered.

use serde_json::{Value, json};

use super::generation::MAX_MESSAGE_ID_CHARS;

/// What Rust's `str::trim` removes (Unicode `White_Space`), spelled out: `\s` means something
/// else in each regex dialect that reads the document.
const WHITESPACE: &str = r"\t\n\x0b\x0c\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";

/// The components to add under `#/components/schemas`, and the body's own schema.
pub(super) fn components() -> Vec<(&'static str, Value)> {
    let schema_ref = |name: &str| json!({ "$ref": format!("#/components/schemas/{name}") });
    let model = json!({
        "type": "string",
        "enum": ["chat-model", "chat-model-reasoning"],
        "description": "The model to answer with; the ids the server is configured with for these two \
                        (`AI_CHAT_MODEL`, `AI_REASONING_MODEL`) are accepted too. Default `chat-model`."
    });
    let user_role = json!({ "type": "object", "required": ["role"], "properties": { "role": { "const": "user" } } });
    let body = json!({
        "type": "object",
        "description": "The new message as `message`, or in `messages` (the AI SDK's default transport sends \
                        the whole history; the server answers its last user message and reads nothing else, but \
                        every item must be a well-formed message and every user message a valid new one). Not \
                        both. Other fields (the AI SDK's `id`, `trigger`) are ignored; the fields named here may \
                        not be `null`.",
        "properties": {
            "message": schema_ref("NewMessageInput"),
            "messages": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "$ref": "#/components/schemas/MessageInput",
                    "if": user_role.clone(),
                    "then": schema_ref("NewMessageInput")
                },
                "contains": user_role,
                "description": "The history with the new message last. Every user message follows the rules of \
                                `message` (parts not empty and not blank, safe file URLs); the last one is answered, \
                                and items after it are ignored."
            },
            "model": schema_ref("ChatModelName"),
            "selectedChatModel": schema_ref("ChatModelName"),
            "visibility": schema_ref("Visibility"),
            "selectedVisibilityType": schema_ref("Visibility")
        },
        "oneOf": [{ "required": ["message"] }, { "required": ["messages"] }]
    });
    vec![
        ("SendMessageRequest", body),
        ("ChatModelName", model),
        ("NewMessageInput", new_message()),
        ("MessageInput", any_message()),
        ("MessagePartInput", part(false)),
        ("NewMessagePartInput", part(true)),
    ]
}

fn message_id() -> Value {
    json!({
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_MESSAGE_ID_CHARS,
        "description": "The client's id; a UUID is kept, anything else maps to a stable UUID. An id already in the \
                        chat regenerates the answer from that message."
    })
}

/// The message to answer. `selectedChatModel` wins over `model`, and `selectedVisibilityType`
/// over `visibility`.
fn new_message() -> Value {
    let non_blank = format!("[^{WHITESPACE}]");
    let ui = json!({
        "type": "object",
        "title": "UIMessage",
        "required": ["role", "parts"],
        "properties": {
            "id": message_id(),
            "role": { "const": "user" },
            "parts": {
                "type": "array",
                "minItems": 1,
                "items": { "$ref": "#/components/schemas/NewMessagePartInput" },
                "description": "At most 32,000 characters (configurable) counting every key and string of every part \
                                except a file part's `url`. Some text part must have more than whitespace, unless a \
                                file part is attached.",
                "anyOf": [
                    { "contains": { "type": "object", "required": ["type"], "properties": { "type": { "const": "file" } } } },
                    { "contains": {
                        "type": "object",
                        "required": ["type", "text"],
                        "properties": { "type": { "const": "text" }, "text": { "type": "string", "pattern": non_blank } }
                    } }
                ]
            }
        }
    });
    let content = json!({
        "type": "object",
        "title": "ContentMessage",
        "description": "The original SDK's shape; the content counts towards the same length limit.",
        "required": ["role", "content"],
        "properties": {
            "role": { "const": "user" },
            "content": { "type": "string", "pattern": non_blank }
        },
        "not": { "required": ["parts"] }
    });
    json!({ "anyOf": [ui, content], "description": "A user message: a UIMessage (it has `parts`) or `{role, content}`." })
}

/// Any message of a history: the shape only.
fn any_message() -> Value {
    let role = json!({ "type": "string", "enum": ["user", "assistant", "system"] });
    json!({
        "description": "A UIMessage (it has `parts`) or `{role, content}`.",
        "anyOf": [
            {
                "type": "object",
                "title": "UIMessage",
                "required": ["role", "parts"],
                "properties": {
                    "id": message_id(),
                    "role": role,
                    "parts": { "type": "array", "items": { "$ref": "#/components/schemas/MessagePartInput" } }
                }
            },
            {
                "type": "object",
                "title": "ContentMessage",
                "required": ["role", "content"],
                "properties": { "role": role, "content": { "type": "string" } },
                "not": { "required": ["parts"] }
            }
        ]
    })
}

/// A part as the AI SDK's `UIMessage` defines it; other fields are kept as sent. In a new
/// message a file's `url` must also be one clients can safely load.
fn part(new: bool) -> Value {
    let string = json!({ "type": "string" });
    let kind = |name: &str, fields: &[&str]| {
        let mut properties = serde_json::Map::new();
        properties.insert("type".into(), json!({ "const": name }));
        for field in fields {
            properties.insert((*field).into(), string.clone());
        }
        let mut required = vec!["type"];
        required.extend(fields);
        json!({ "type": "object", "required": required, "properties": properties })
    };
    let mut file = kind("file", &["mediaType", "url"]);
    if new {
        file["properties"]["url"] = json!({
            "type": "string",
            "pattern": safe_url_pattern(),
            "description": "https:, http:, a file of this server (`/api/v1/files/...`), or a data: URL of an image \
                            (JPEG, PNG, GIF, WebP) or a PDF."
        });
    }
    let prefixed = |prefix: &str, required: Value, properties: Value| {
        let mut properties = properties;
        properties["type"] = json!({ "type": "string", "pattern": format!(r"^{prefix}-[\s\S]") });
        json!({ "type": "object", "required": required, "properties": properties })
    };
    json!({
        "description": "A message part: `type` names the kind, and each kind needs its fields.",
        "anyOf": [
            {
                "type": "object",
                "required": ["type", "text"],
                "properties": { "type": { "enum": ["text", "reasoning"] }, "text": string }
            },
            file,
            kind("step-start", &[]),
            kind("source-url", &["sourceId", "url"]),
            kind("source-document", &["sourceId", "mediaType", "title"]),
            kind("dynamic-tool", &["toolName", "toolCallId", "state"]),
            prefixed("tool", json!(["type", "toolCallId", "state"]), json!({ "toolCallId": string, "state": string })),
            prefixed("data", json!(["type", "data"]), json!({}))
        ]
    })
}

/// `services::incoming::check_file_part` as a pattern: after leading whitespace, one of the
/// allowed beginnings, ASCII letters in any case; a data: URL's type ends at `;` or `,`.
fn safe_url_pattern() -> String {
    let any_case = |text: &str| {
        text.chars()
            .map(|c| {
                if c.is_ascii_alphabetic() {
                    format!("[{}{}]", c.to_ascii_lowercase(), c.to_ascii_uppercase())
                } else {
                    c.to_string()
                }
            })
            .collect::<String>()
    };
    let media = alleato_core::services::ALLOWED_CONTENT_TYPES.iter().map(|t| any_case(t)).collect::<Vec<_>>().join("|");
    format!(
        "^[{WHITESPACE}]*({}|{}|{}|{}({media})[;,])",
        any_case("https://"),
        any_case("http://"),
        any_case("/api/v1/files/"),
        any_case("data:")
    )
}
