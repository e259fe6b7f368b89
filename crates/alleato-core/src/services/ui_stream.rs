//! Chunks of the AI SDK UI message stream protocol, v1 (`x-vercel-ai-ui-message-stream: v1`):
//! each is one JSON object sent as an SSE `data:` line; the stream ends with `[DONE]`.

use serde_json::{Value, json};

/// The last entry of every generation stream, sent as `data: [DONE]`.
pub const DONE: &str = "[DONE]";

/// `{"type":"start","messageId":…}`: the first chunk of an answer, naming the assistant
/// message it builds.
pub fn start(message_id: &str) -> Value {
    json!({"type": "start", "messageId": message_id})
}

/// `{"type":"start-step"}`: a model step begins.
pub fn start_step() -> Value {
    json!({"type": "start-step"})
}

/// `{"type":"finish-step"}`: the current model step is over.
pub fn finish_step() -> Value {
    json!({"type": "finish-step"})
}

/// `{"type":"finish"}`: the last chunk of an answer, whether it completed, failed or was
/// stopped; only `[DONE]` follows.
pub fn finish() -> Value {
    json!({"type": "finish"})
}

/// `text-start`, `reasoning-start`, ...: `kind` is `text` or `reasoning`.
pub fn block_start(kind: &str, id: &str) -> Value {
    json!({"type": format!("{kind}-start"), "id": id})
}

/// `text-delta`, `reasoning-delta`, ...: more of the open `kind` block `id`, as `delta`.
pub fn block_delta(kind: &str, id: &str, delta: &str) -> Value {
    json!({"type": format!("{kind}-delta"), "id": id, "delta": delta})
}

/// `text-end`, `reasoning-end`, ...: the `kind` block `id` is closed.
pub fn block_end(kind: &str, id: &str) -> Value {
    json!({"type": format!("{kind}-end"), "id": id})
}

/// `{"type":"error","errorText":…}`: why the answer failed or was cut short, for the client
/// to show.
pub fn error(text: &str) -> Value {
    json!({"type": "error", "errorText": text})
}

/// A custom data part, `data-<name>`.
pub fn data(name: &str, data: Value) -> Value {
    json!({"type": format!("data-{name}"), "data": data})
}

/// A custom data part for this stream only (`transient`): clients see it as it streams, and
/// it is not stored with the message (a document's deltas, a suggestion on its way).
pub fn transient(name: &str, data: Value) -> Value {
    json!({"type": format!("data-{name}"), "data": data, "transient": true})
}

/// A tool call begins; its input follows as deltas.
pub fn tool_input_start(call_id: &str, tool: &str) -> Value {
    json!({"type": "tool-input-start", "toolCallId": call_id, "toolName": tool})
}

/// More of a tool call's input, as raw JSON text.
pub fn tool_input_delta(call_id: &str, delta: &str) -> Value {
    json!({"type": "tool-input-delta", "toolCallId": call_id, "inputTextDelta": delta})
}

/// A tool call's whole input.
pub fn tool_input_available(call_id: &str, tool: &str, input: &Value) -> Value {
    json!({"type": "tool-input-available", "toolCallId": call_id, "toolName": tool, "input": input})
}

/// A tool call whose input cannot be used (not JSON, not what the tool takes).
pub fn tool_input_error(call_id: &str, tool: &str, input: &Value, error: &str) -> Value {
    json!({"type": "tool-input-error", "toolCallId": call_id, "toolName": tool, "input": input, "errorText": error})
}

/// A tool call's output.
pub fn tool_output_available(call_id: &str, output: &Value) -> Value {
    json!({"type": "tool-output-available", "toolCallId": call_id, "output": output})
}

/// A tool call that failed.
pub fn tool_output_error(call_id: &str, error: &str) -> Value {
    json!({"type": "tool-output-error", "toolCallId": call_id, "errorText": error})
}
