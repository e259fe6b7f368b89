//! The assistant's answer as UI message chunks, and back: [`Blocks`] opens, fills and closes
//! text and reasoning blocks as the model's deltas come (`text-start`, `text-delta`,
//! `text-end`, ...); [`Parts`] reads chunks back into the parts the answer is stored with, as
//! the AI SDK's `readUIMessageStream` does, so the stored message and what a client built from
//! the stream agree. The job feeds it every chunk it writes; crash recovery feeds it the
//! chunks a dead process left.

use serde_json::{Map, Value, json};

use super::ui_stream as ui;
use crate::ids::MessageId;
use crate::model::MessagePart;

/// The open block of a generation, and how many it has opened (their ids).
pub(crate) struct Blocks {
    message_id: MessageId,
    open: Option<(&'static str, String)>,
    count: u32,
}

impl Blocks {
    pub(crate) fn new(message_id: MessageId) -> Self {
        Self { message_id, open: None, count: 0 }
    }

    /// The chunks that switch to a `kind` block (closing another), then the delta.
    pub(crate) fn delta(&mut self, kind: &'static str, delta: &str) -> Vec<Value> {
        let mut out = Vec::new();
        if self.open.as_ref().is_none_or(|(k, _)| *k != kind) {
            out.extend(self.close());
            self.count += 1;
            let id = format!("{}-{}", self.message_id, self.count);
            out.push(ui::block_start(kind, &id));
            self.open = Some((kind, id));
        }
        let id = &self.open.as_ref().expect("opened above").1;
        out.push(ui::block_delta(kind, id, delta));
        out
    }

    /// The chunk that closes the open block, if one is open.
    pub(crate) fn close(&mut self) -> Option<Value> {
        self.open.take().map(|(kind, id)| ui::block_end(kind, &id))
    }
}

/// The stored parts of an answer, built from its chunks in stream order: text and reasoning
/// parts, a `step-start` between steps, a `tool-<name>` part per tool call (with its state),
/// and the data parts that are not transient.
#[derive(Debug, Default)]
pub(crate) struct Parts {
    parts: Vec<Map<String, Value>>,
    /// Whether a step has started: the first one needs no boundary part.
    stepped: bool,
}

impl Parts {
    /// Takes one chunk of the stream (anything that is not a chunk object is ignored).
    pub(crate) fn take(&mut self, chunk: &Value) {
        let field = |name: &str| chunk.get(name).and_then(Value::as_str).unwrap_or_default();
        let ty = field("type");
        match ty {
            "start-step" => {
                if self.stepped {
                    self.push(json!({"type": "step-start"}));
                }
                self.stepped = true;
            }
            "text-start" | "reasoning-start" => {
                let kind = &ty[..ty.len() - "-start".len()];
                self.push(json!({"type": kind, "text": "", "state": "streaming"}));
            }
            "text-delta" | "reasoning-delta" => {
                let kind = &ty[..ty.len() - "-delta".len()];
                if let Some(part) = self.open_block(kind)
                    && let Some(Value::String(text)) = part.get_mut("text")
                {
                    text.push_str(field("delta"));
                }
            }
            "text-end" | "reasoning-end" => {
                let kind = &ty[..ty.len() - "-end".len()];
                if let Some(part) = self.open_block(kind) {
                    part.insert("state".into(), "done".into());
                }
            }
            "tool-input-start" => self.push(json!({
                "type": format!("tool-{}", field("toolName")),
                "toolCallId": field("toolCallId"),
                "state": "input-streaming",
            })),
            "tool-input-available" | "tool-input-error" => {
                let call = self.tool_part(field("toolCallId"), field("toolName"));
                call.insert("input".into(), chunk.get("input").cloned().unwrap_or(Value::Null));
                if ty == "tool-input-error" {
                    call.insert("state".into(), "output-error".into());
                    call.insert("errorText".into(), field("errorText").into());
                } else {
                    call.insert("state".into(), "input-available".into());
                }
            }
            "tool-output-available" | "tool-output-error" => {
                let Some(call) = self.find_tool(field("toolCallId")) else { return };
                if ty == "tool-output-error" {
                    call.insert("state".into(), "output-error".into());
                    call.insert("errorText".into(), field("errorText").into());
                } else {
                    call.insert("state".into(), "output-available".into());
                    call.insert("output".into(), chunk.get("output").cloned().unwrap_or(Value::Null));
                }
            }
            data if data.starts_with("data-") && chunk.get("transient") != Some(&Value::Bool(true)) => {
                let mut part = Map::new();
                part.insert("type".into(), data.into());
                if let Some(id) = chunk.get("id") {
                    part.insert("id".into(), id.clone());
                }
                part.insert("data".into(), chunk.get("data").cloned().unwrap_or(Value::Null));
                self.parts.push(part);
            }
            _ => {}
        }
    }

    /// The ids of the tool calls that have no output yet.
    pub(crate) fn unanswered_calls(&self) -> Vec<String> {
        self.parts
            .iter()
            .filter(|p| is_tool(p) && is_unanswered(p))
            .map(|p| p.get("toolCallId").and_then(Value::as_str).unwrap_or_default().to_owned())
            .collect()
    }

    /// The parts to store. Whatever was still streaming is closed; a tool call that never got
    /// its output ends as an `output-error` saying `why`.
    pub(crate) fn finish(&self, why: &str) -> Vec<MessagePart> {
        self.parts
            .iter()
            .filter(|p| !(p.get("text").is_some_and(|t| t.as_str() == Some("")) && p.contains_key("state")))
            .map(|part| {
                let mut part = part.clone();
                let state = part.get("state").and_then(Value::as_str).unwrap_or_default();
                if state == "streaming" {
                    part.insert("state".into(), "done".into());
                } else if is_tool(&part) && is_unanswered(&part) {
                    part.insert("state".into(), "output-error".into());
                    part.entry("input").or_insert(Value::Null);
                    part.insert("errorText".into(), why.into());
                }
                MessagePart::from_value(Value::Object(part)).expect("parts built from valid chunks")
            })
            .collect()
    }

    fn push(&mut self, part: Value) {
        if let Value::Object(part) = part {
            self.parts.push(part);
        }
    }

    /// The last part, if it is a `kind` block still streaming.
    fn open_block(&mut self, kind: &str) -> Option<&mut Map<String, Value>> {
        self.parts
            .iter_mut()
            .rev()
            .find(|p| p.get("type").and_then(Value::as_str) == Some(kind))
            .filter(|p| p.get("state").and_then(Value::as_str) == Some("streaming"))
    }

    fn find_tool(&mut self, call_id: &str) -> Option<&mut Map<String, Value>> {
        self.parts.iter_mut().find(|p| is_tool(p) && p.get("toolCallId").and_then(Value::as_str) == Some(call_id))
    }

    /// The call's part, created when its input arrives without a start.
    fn tool_part(&mut self, call_id: &str, name: &str) -> &mut Map<String, Value> {
        if self.find_tool(call_id).is_none() {
            self.push(json!({"type": format!("tool-{name}"), "toolCallId": call_id, "state": "input-streaming"}));
        }
        self.find_tool(call_id).expect("created above")
    }
}

fn is_tool(part: &Map<String, Value>) -> bool {
    part.get("type").and_then(Value::as_str).is_some_and(|t| t.starts_with("tool-"))
}

/// Whether a tool part is still waiting for its input or its output.
fn is_unanswered(part: &Map<String, Value>) -> bool {
    matches!(part.get("state").and_then(Value::as_str), Some("input-streaming" | "input-available"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn built(chunks: &[Value]) -> Vec<Value> {
        let mut parts = Parts::default();
        for chunk in chunks {
            parts.take(chunk);
        }
        parts.finish("cut short").into_iter().map(|p| serde_json::to_value(p).unwrap()).collect()
    }

    #[test]
    fn text_and_reasoning_blocks_become_done_parts() {
        let parts = built(&[
            ui::start("m"),
            ui::start_step(),
            ui::block_start("reasoning", "r"),
            ui::block_delta("reasoning", "r", "hmm"),
            ui::block_end("reasoning", "r"),
            ui::block_start("text", "t"),
            ui::block_delta("text", "t", "Hello"),
            ui::block_delta("text", "t", " there"),
        ]);
        assert_eq!(
            parts,
            [
                json!({"type": "reasoning", "text": "hmm", "state": "done"}),
                json!({"type": "text", "text": "Hello there", "state": "done"}),
            ]
        );
    }

    #[test]
    fn tool_calls_keep_their_state_steps_their_boundaries_and_transient_data_is_not_stored() {
        let parts = built(&[
            ui::start_step(),
            ui::tool_input_start("c1", "createDocument"),
            ui::tool_input_delta("c1", "{\"title\":"),
            ui::tool_input_available("c1", "createDocument", &json!({"title": "Rivers", "kind": "text"})),
            ui::transient("textDelta", json!("Rivers flow")),
            ui::tool_output_available("c1", &json!({"id": "d1"})),
            ui::tool_input_available("c2", "updateDocument", &json!({"id": "x"})),
            ui::tool_output_error("c2", "not_found:document"),
            ui::tool_input_start("c3", "requestSuggestions"),
            ui::finish_step(),
            ui::start_step(),
            ui::block_start("text", "t"),
            ui::block_delta("text", "t", "Done."),
            ui::block_end("text", "t"),
            ui::data("chat-title", json!("Rivers")),
        ]);
        assert_eq!(
            parts,
            [
                json!({"type": "tool-createDocument", "toolCallId": "c1", "state": "output-available",
                       "input": {"title": "Rivers", "kind": "text"}, "output": {"id": "d1"}}),
                json!({"type": "tool-updateDocument", "toolCallId": "c2", "state": "output-error",
                       "input": {"id": "x"}, "errorText": "not_found:document"}),
                json!({"type": "tool-requestSuggestions", "toolCallId": "c3", "state": "output-error",
                       "input": null, "errorText": "cut short"}),
                json!({"type": "step-start"}),
                json!({"type": "text", "text": "Done.", "state": "done"}),
                json!({"type": "data-chat-title", "data": "Rivers"}),
            ]
        );
    }
}
