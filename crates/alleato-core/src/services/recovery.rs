//! What an interrupted generation had produced, rebuilt from its stream: a process that was
//! killed mid-answer leaves a stream without its end, and the chat with a question and no
//! answer. The next start reads the stream back, stores what was generated (marked as cut
//! short), and ends the stream, so both a reload and a resume show what happened.

use serde_json::{Value, json};

use super::ui_message::Parts;
use super::ui_stream::{self as ui, DONE};
use crate::error::Result;
use crate::ids::MessageId;
use crate::model::MessagePart;
use crate::ports::StreamStore;

/// The code of the data part that marks an answer cut short by a restart.
pub const INTERRUPTED_CODE: &str = "interrupted:chat";
const INTERRUPTED_MESSAGE: &str = "The server stopped before this answer was finished.";

/// The state of a generation as its stream tells it.
#[derive(Debug, Default)]
pub(crate) struct Replayed {
    /// The assistant message's id, from the `start` chunk.
    pub message_id: Option<MessageId>,
    /// The answer's parts so far.
    parts: Parts,
    /// A text or reasoning block left open: `(kind, id)`.
    open_block: Option<(String, String)>,
    step_open: bool,
    finished: bool,
    /// The stream already ends with `[DONE]`: only the finish mark is missing.
    done: bool,
}

impl Replayed {
    /// The parts to store: what was generated, then the mark.
    pub fn parts(&self) -> Vec<MessagePart> {
        let mut parts = self.parts.finish(INTERRUPTED_MESSAGE);
        let mark = json!({"type": "data-error", "data": {"code": INTERRUPTED_CODE, "message": INTERRUPTED_MESSAGE}});
        parts.push(MessagePart::from_value(mark).expect("a valid data part"));
        parts
    }

    /// The chunks that end the stream in the protocol's terms: close what is open, say why,
    /// finish.
    pub fn closing_chunks(&self) -> Vec<String> {
        if self.done {
            return Vec::new();
        }
        let mut chunks = Vec::new();
        if let Some((kind, id)) = &self.open_block {
            chunks.push(ui::block_end(kind, id).to_string());
        }
        // Every tool call gets an end, so a client's tool part leaves its waiting state.
        for call in self.parts.unanswered_calls() {
            chunks.push(ui::tool_output_error(&call, INTERRUPTED_MESSAGE).to_string());
        }
        chunks.push(ui::error(INTERRUPTED_MESSAGE).to_string());
        if self.step_open {
            chunks.push(ui::finish_step().to_string());
        }
        if !self.finished {
            chunks.push(ui::finish().to_string());
        }
        chunks.push(DONE.to_owned());
        chunks
    }

    fn take(&mut self, entry: &[u8]) {
        if entry == DONE.as_bytes() {
            self.done = true;
            return;
        }
        let Ok(chunk) = serde_json::from_slice::<Value>(entry) else { return };
        self.parts.take(&chunk);
        let field = |name: &str| chunk.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
        match chunk.get("type").and_then(Value::as_str).unwrap_or_default() {
            "start" => self.message_id = field("messageId").parse().ok(),
            "start-step" => self.step_open = true,
            "finish-step" => self.step_open = false,
            "finish" => self.finished = true,
            "text-start" => self.open_block = Some(("text".into(), field("id"))),
            "reasoning-start" => self.open_block = Some(("reasoning".into(), field("id"))),
            "text-end" | "reasoning-end" => self.open_block = None,
            _ => {}
        }
    }
}

/// Reads the whole stream `id` and tells what it holds.
pub(crate) async fn replay(store: &dyn StreamStore, id: &str) -> Result<Replayed> {
    let mut replayed = Replayed::default();
    let mut cursor = 0;
    while let Some(slice) = store.read(id, cursor, 256).await? {
        let Some((last, _)) = slice.entries.last() else { break };
        cursor = *last;
        for (_, entry) in &slice.entries {
            replayed.take(entry);
        }
    }
    Ok(replayed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_stream_is_closed_in_order_and_keeps_what_was_said() {
        let mut replayed = Replayed::default();
        let id = MessageId::new();
        for chunk in [
            ui::start(&id.to_string()),
            ui::start_step(),
            ui::block_start("reasoning", "r1"),
            ui::block_delta("reasoning", "r1", "thinking"),
            ui::block_end("reasoning", "r1"),
            ui::block_start("text", "t1"),
            ui::block_delta("text", "t1", "Hello "),
            ui::block_delta("text", "t1", "there"),
        ] {
            replayed.take(chunk.to_string().as_bytes());
        }
        assert_eq!(replayed.message_id, Some(id));
        let closing: Vec<Value> = replayed
            .closing_chunks()
            .iter()
            .map(|c| serde_json::from_str(c).unwrap_or(Value::String(c.clone())))
            .collect();
        let types: Vec<&str> = closing.iter().map(|c| c["type"].as_str().unwrap_or("[DONE]")).collect();
        assert_eq!(types, ["text-end", "error", "finish-step", "finish", "[DONE]"]);
        let parts = replayed.parts();
        let texts: Vec<_> = parts.iter().filter_map(MessagePart::text_content).collect();
        assert_eq!(texts, ["thinking", "Hello there"]);
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[2].get("data").unwrap()["code"], INTERRUPTED_CODE);
    }

    #[test]
    fn a_stream_cut_during_a_tool_call_ends_the_call_in_the_stream_and_in_the_stored_part() {
        let mut replayed = Replayed::default();
        for chunk in [
            ui::start(&MessageId::new().to_string()),
            ui::start_step(),
            ui::tool_input_start("c1", "createDocument"),
            ui::tool_input_available("c1", "createDocument", &json!({"title": "Rivers", "kind": "text"})),
            ui::transient("textDelta", json!("Rivers ")),
        ] {
            replayed.take(chunk.to_string().as_bytes());
        }
        let closing: Vec<Value> =
            replayed.closing_chunks().iter().filter_map(|c| serde_json::from_str(c).ok()).collect();
        assert_eq!(closing[0]["type"], "tool-output-error");
        assert_eq!(
            (closing[0]["toolCallId"].as_str(), closing[0]["errorText"].as_str()),
            (Some("c1"), Some(INTERRUPTED_MESSAGE))
        );
        let parts = replayed.parts();
        let tool = parts[0].tool().expect("the call is kept");
        assert_eq!((tool.state, tool.error_text), ("output-error", Some(INTERRUPTED_MESSAGE)));
        assert_eq!(tool.input, Some(&json!({"title": "Rivers", "kind": "text"})));
        assert_eq!(parts.len(), 2, "the call and the mark; the transient part is not stored");
    }

    #[test]
    fn a_stream_that_reached_done_needs_no_closing() {
        let mut replayed = Replayed::default();
        replayed.take(DONE.as_bytes());
        assert!(replayed.closing_chunks().is_empty());
    }
}
