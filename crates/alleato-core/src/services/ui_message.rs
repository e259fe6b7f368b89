//! The assistant's answer as UI message chunks: text and reasoning blocks opened, filled and
//! closed as the model's deltas come (`text-start`, `text-delta`, `text-end`, ...), and the
//! parts the answer is stored with.

use serde_json::{Value, json};

use super::ui_stream as ui;
use crate::ids::MessageId;
use crate::model::MessagePart;

/// The open block and what each kind has said so far.
pub(crate) struct Blocks {
    message_id: MessageId,
    open: Option<(&'static str, String)>,
    count: u32,
    reasoning: String,
    text: String,
}

impl Blocks {
    pub(crate) fn new(message_id: MessageId) -> Self {
        Self { message_id, open: None, count: 0, reasoning: String::new(), text: String::new() }
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
        if kind == "text" { &mut self.text } else { &mut self.reasoning }.push_str(delta);
        out
    }

    pub(crate) fn close(&mut self) -> Option<Value> {
        self.open.take().map(|(kind, id)| ui::block_end(kind, &id))
    }

    /// The parts the answer is stored with.
    pub(crate) fn parts(&self) -> Vec<MessagePart> {
        answer_parts(&self.reasoning, &self.text)
    }
}

/// An answer's stored parts: its reasoning, then its text, each when there is any.
pub(crate) fn answer_parts(reasoning: &str, text: &str) -> Vec<MessagePart> {
    [("reasoning", reasoning), ("text", text)]
        .into_iter()
        .filter(|(_, content)| !content.is_empty())
        .map(|(kind, content)| {
            MessagePart::from_value(json!({"type": kind, "text": content, "state": "done"})).expect("a valid part")
        })
        .collect()
}
