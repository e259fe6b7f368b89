//! The prompt of a generation: the system prompt, then the chat's newest messages within a
//! budget.

use serde_json::Value;

use super::GenerationSettings;
use crate::model::{MessagePart, PartKind, Role, StoredMessage};
use crate::ports::PromptMessage;

/// The text of a message's text parts.
pub(super) fn text_of(parts: &[MessagePart]) -> String {
    parts
        .iter()
        .filter(|p| p.kind() == PartKind::Text)
        .filter_map(MessagePart::text_content)
        .collect::<Vec<_>>()
        .join("\n")
}

pub(super) fn prompt(settings: &GenerationSettings, history: &[StoredMessage]) -> Vec<PromptMessage> {
    let mut prompt = vec![PromptMessage { role: Role::System, content: settings.system_prompt.clone() }];
    // The newest messages, up to a budget, so a long chat cannot build an unbounded prompt.
    let mut budget = 4 * settings.max_message_chars;
    let mut recent = Vec::new();
    for message in history.iter().rev() {
        let mut content = text_of(&message.parts);
        for part in message.parts.iter().filter(|p| p.kind() == PartKind::File) {
            let name = part.get("filename").or_else(|| part.get("name")).and_then(Value::as_str).unwrap_or("file");
            let media = part.get("mediaType").and_then(Value::as_str).unwrap_or("");
            content.push_str(&format!("\n[attached {name} ({media})]"));
        }
        if content.trim().is_empty() || message.role == Role::System {
            continue;
        }
        if content.len() > budget {
            break;
        }
        budget -= content.len();
        recent.push(PromptMessage { role: message.role, content });
    }
    prompt.extend(recent.into_iter().rev());
    prompt
}
