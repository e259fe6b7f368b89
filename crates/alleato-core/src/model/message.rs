//! Messages in the AI SDK `UIMessage` shape: an ordered list of typed parts.
//!
//! A part is kept as its JSON object, so fields this server does not interpret (provider
//! metadata, tool inputs) round-trip untouched, but it is validated on the way in: the `type`
//! must be one the AI SDK defines and the fields that type needs must be present and typed.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result, Surface};
use crate::ids::{ChatId, MessageId};
use crate::time::Timestamp;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
/// Who says a message.
pub enum Role {
    /// The person chatting.
    User,
    /// The model's answer.
    Assistant,
    /// Instructions to the model (prompts only; never stored from a client).
    System,
}

impl Role {
    /// The wire name: `user`, `assistant` or `system`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::System => "system",
        }
    }

    /// The role a wire name stands for.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "user" => Some(Role::User),
            "assistant" => Some(Role::Assistant),
            "system" => Some(Role::System),
            _ => None,
        }
    }
}

/// The kinds of part the AI SDK's `UIMessage` defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartKind {
    /// `text`
    Text,
    /// `reasoning`
    Reasoning,
    /// `file`
    File,
    /// `step-start`: the boundary between two steps of an answer.
    StepStart,
    /// `source-url`
    SourceUrl,
    /// `source-document`
    SourceDocument,
    /// `tool-<name>`
    Tool,
    /// `dynamic-tool`
    DynamicTool,
    /// `data-<name>`
    Data,
}

/// One validated part of a message.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
#[cfg_attr(feature = "openapi", schema(value_type = Object))]
pub struct MessagePart(Map<String, Value>);

impl MessagePart {
    /// A plain text part.
    pub fn text(text: impl Into<String>) -> Self {
        let mut map = Map::new();
        map.insert("type".into(), Value::from("text"));
        map.insert("text".into(), Value::from(text.into()));
        Self(map)
    }

    /// Validates a JSON value as a part.
    pub fn from_value(value: Value) -> Result<Self> {
        let Value::Object(map) = value else {
            return Err(invalid("each message part must be a JSON object"));
        };
        let part = Self(map);
        part.validate()?;
        Ok(part)
    }

    /// The part's kind, from its `type`.
    pub fn kind(&self) -> PartKind {
        let ty = self.type_name();
        match ty {
            "text" => PartKind::Text,
            "reasoning" => PartKind::Reasoning,
            "file" => PartKind::File,
            "step-start" => PartKind::StepStart,
            "source-url" => PartKind::SourceUrl,
            "source-document" => PartKind::SourceDocument,
            "dynamic-tool" => PartKind::DynamicTool,
            t if t.starts_with("tool-") => PartKind::Tool,
            _ => PartKind::Data,
        }
    }

    /// The part's `type` (`text`, `tool-createDocument`, `data-chat-title`, ...).
    pub fn type_name(&self) -> &str {
        self.0.get("type").and_then(Value::as_str).unwrap_or_default()
    }

    /// The text of a text or reasoning part.
    pub fn text_content(&self) -> Option<&str> {
        match self.kind() {
            PartKind::Text | PartKind::Reasoning => self.0.get("text").and_then(Value::as_str),
            _ => None,
        }
    }

    /// One field of the part.
    pub fn get(&self, field: &str) -> Option<&Value> {
        self.0.get(field)
    }

    /// The whole part, as JSON.
    pub fn as_json(&self) -> &Map<String, Value> {
        &self.0
    }

    /// A tool call part (`tool-<name>` or `dynamic-tool`), read: the call, its state, and its
    /// input and output or error as far as it got.
    pub fn tool(&self) -> Option<ToolPart<'_>> {
        let tool_name = match self.kind() {
            PartKind::Tool => self.type_name().strip_prefix("tool-")?,
            PartKind::DynamicTool => self.0.get("toolName")?.as_str()?,
            _ => return None,
        };
        let text = |field: &str| self.0.get(field).and_then(Value::as_str);
        Some(ToolPart {
            tool_name,
            tool_call_id: text("toolCallId")?,
            state: text("state")?,
            input: self.0.get("input").filter(|v| !v.is_null()),
            output: self.0.get("output"),
            error_text: text("errorText"),
        })
    }

    fn validate(&self) -> Result<()> {
        let ty = match self.0.get("type") {
            Some(Value::String(t)) => t.as_str(),
            _ => return Err(invalid("each message part needs a string `type`")),
        };
        let require_str = |field: &str| match self.0.get(field) {
            Some(Value::String(_)) => Ok(()),
            _ => Err(invalid(format!("a `{ty}` part needs a string `{field}`"))),
        };
        match ty {
            "text" | "reasoning" => require_str("text"),
            "file" => {
                require_str("mediaType")?;
                require_str("url")
            }
            "step-start" => Ok(()),
            "source-url" => {
                require_str("sourceId")?;
                require_str("url")
            }
            "source-document" => {
                require_str("sourceId")?;
                require_str("mediaType")?;
                require_str("title")
            }
            "dynamic-tool" => {
                require_str("toolName")?;
                require_str("toolCallId")?;
                require_str("state")
            }
            t if t.len() > "tool-".len() && t.starts_with("tool-") => {
                require_str("toolCallId")?;
                require_str("state")
            }
            t if t.len() > "data-".len() && t.starts_with("data-") => {
                if self.0.contains_key("data") {
                    Ok(())
                } else {
                    Err(invalid(format!("a `{t}` part needs a `data` field")))
                }
            }
            other => Err(invalid(format!(
                "unknown message part type `{}`; expected text, reasoning, file, step-start, source-url, \
                 source-document, dynamic-tool, tool-<name> or data-<name>",
                truncate(other, 40)
            ))),
        }
    }
}

/// A tool call part of a message, as [`MessagePart::tool`] reads it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ToolPart<'a> {
    /// The tool's name (`createDocument`).
    pub tool_name: &'a str,
    /// The call's id, unique within the message.
    pub tool_call_id: &'a str,
    /// `input-streaming`, `input-available`, `output-available` or `output-error` (the AI SDK's
    /// states; a stored answer only has the last two).
    pub state: &'a str,
    /// The call's input, once complete.
    pub input: Option<&'a Value>,
    /// The tool's output, in state `output-available`.
    pub output: Option<&'a Value>,
    /// Why it failed, in state `output-error`.
    pub error_text: Option<&'a str>,
}

impl<'de> Deserialize<'de> for MessagePart {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        MessagePart::from_value(value).map_err(serde::de::Error::custom)
    }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::bad_request(Surface::Message, message.into())
}

fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

/// A message as stored: `Message_v2` in the original schema.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredMessage {
    /// The message's id (the client's, when it sent a UUID).
    pub id: MessageId,
    /// The chat it belongs to.
    pub chat_id: ChatId,
    /// Who said it.
    pub role: Role,
    /// What it says, in order.
    pub parts: Vec<MessagePart>,
    /// Always `[]` for AI SDK 5 clients (files travel as parts); kept for compatibility.
    #[serde(default)]
    pub attachments: Vec<Value>,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    /// When it was stored.
    #[serde(with = "crate::time::wire")]
    pub created_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn known_parts_validate() {
        for part in [
            json!({"type": "text", "text": "hi"}),
            json!({"type": "reasoning", "text": "hmm", "state": "done"}),
            json!({"type": "file", "mediaType": "image/png", "url": "https://x/y.png"}),
            json!({"type": "step-start"}),
            json!({"type": "tool-getWeather", "toolCallId": "c1", "state": "input-available", "input": {}}),
            json!({"type": "data-chat-title", "data": "Hello"}),
        ] {
            MessagePart::from_value(part.clone()).unwrap_or_else(|e| panic!("{part}: {e}"));
        }
    }

    #[test]
    fn bad_parts_are_rejected_with_a_reason() {
        for (part, needle) in [
            (json!({"type": "texts", "text": "hi"}), "unknown message part type"),
            (json!({"type": "text"}), "needs a string `text`"),
            (json!({"text": "hi"}), "string `type`"),
            (json!("hi"), "JSON object"),
            (json!({"type": "tool-", "toolCallId": "c", "state": "s"}), "unknown"),
        ] {
            let err = MessagePart::from_value(part).unwrap_err();
            assert!(err.to_string().contains(needle), "{err}");
        }
    }

    #[test]
    fn tool_parts_read_as_tool_calls() {
        let done = MessagePart::from_value(json!({"type": "tool-createDocument", "toolCallId": "c1",
            "state": "output-available", "input": {"title": "Rivers"}, "output": {"id": "d1"}}))
        .unwrap();
        let tool = done.tool().unwrap();
        assert_eq!((tool.tool_name, tool.tool_call_id, tool.state), ("createDocument", "c1", "output-available"));
        assert_eq!(
            (tool.input, tool.output, tool.error_text),
            (Some(&json!({"title": "Rivers"})), Some(&json!({"id": "d1"})), None)
        );
        let failed = MessagePart::from_value(json!({"type": "dynamic-tool", "toolName": "x", "toolCallId": "c2",
            "state": "output-error", "input": null, "errorText": "no"}))
        .unwrap();
        let tool = failed.tool().unwrap();
        assert_eq!((tool.tool_name, tool.input, tool.error_text), ("x", None, Some("no")));
        assert!(MessagePart::text("hi").tool().is_none());
    }

    #[test]
    fn unknown_fields_round_trip() {
        let raw = json!({"type": "text", "text": "hi", "providerMetadata": {"x": 1}});
        let part = MessagePart::from_value(raw.clone()).unwrap();
        assert_eq!(serde_json::to_value(&part).unwrap(), raw);
    }
}
