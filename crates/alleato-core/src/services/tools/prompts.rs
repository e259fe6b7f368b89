//! What the tools ask the model.

use crate::model::DocumentKind;
use crate::ports::PromptMessage;

/// The start of the system prompt of every request that writes a document's content.
pub const DOCUMENT_PROMPT: &str = "You write the content of a document shown beside a chat.";

/// The system prompt of the request for suggestions: one JSON object per line.
pub const SUGGESTIONS_PROMPT: &str = "You are a writing assistant. Given a document, suggest at most 5 improvements. \
Reply with one JSON object per line and nothing else, each with the fields originalSentence (a sentence copied \
exactly from the document), suggestedSentence (its improved version) and description (why, in a few words).";

/// The most characters of conversation a document's prompt carries.
const CONVERSATION_CHARS: usize = 6000;

/// The system prompt for writing a document of `kind`.
pub(super) fn document_system(kind: DocumentKind) -> String {
    let how = match kind {
        DocumentKind::Code => {
            "Write a complete, runnable program (Python unless the conversation asks for another language), \
             with short comments. Reply with the code only, without Markdown fences or explanations."
        }
        DocumentKind::Sheet => {
            "Write a spreadsheet as CSV: a header row, then the data rows. Reply with the CSV only, without \
             Markdown fences or explanations."
        }
        DocumentKind::Text | DocumentKind::Image => {
            "Write it in Markdown, with headings where they help. Reply with the document only, without \
             introduction or closing remarks."
        }
    };
    format!("{DOCUMENT_PROMPT} {how}")
}

/// The conversation that led to a document, newest last, within a budget: the document is
/// written for this conversation, not only from its title.
pub(super) fn conversation(messages: &[PromptMessage]) -> String {
    let mut lines = Vec::new();
    let mut left = CONVERSATION_CHARS;
    for message in messages.iter().rev().filter(|m| m.role != crate::model::Role::System) {
        let text = message.content.trim();
        if text.is_empty() {
            continue;
        }
        let line = format!("{}: {}", message.role.as_str(), text);
        if line.len() > left {
            break;
        }
        left -= line.len();
        lines.push(line);
    }
    lines.reverse();
    lines.join("\n")
}
