//! Chunks of the AI SDK UI message stream protocol, v1 (`x-vercel-ai-ui-message-stream: v1`):
//! each is one JSON object sent as an SSE `data:` line; the stream ends with `[DONE]`.

use serde_json::{Value, json};

/// The last entry of every generation stream, sent as `data: [DONE]`.
pub const DONE: &str = "[DONE]";

pub fn start(message_id: &str) -> Value {
    json!({"type": "start", "messageId": message_id})
}

pub fn start_step() -> Value {
    json!({"type": "start-step"})
}

pub fn finish_step() -> Value {
    json!({"type": "finish-step"})
}

pub fn finish() -> Value {
    json!({"type": "finish"})
}

/// `text-start`, `reasoning-start`, ...: `kind` is `text` or `reasoning`.
pub fn block_start(kind: &str, id: &str) -> Value {
    json!({"type": format!("{kind}-start"), "id": id})
}

pub fn block_delta(kind: &str, id: &str, delta: &str) -> Value {
    json!({"type": format!("{kind}-delta"), "id": id, "delta": delta})
}

pub fn block_end(kind: &str, id: &str) -> Value {
    json!({"type": format!("{kind}-end"), "id": id})
}

pub fn error(text: &str) -> Value {
    json!({"type": "error", "errorText": text})
}

/// A custom data part, `data-<name>`.
pub fn data(name: &str, data: Value) -> Value {
    json!({"type": format!("data-{name}"), "data": data})
}
