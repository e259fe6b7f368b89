//! The prompt of a generation: the system prompt, then the chat's newest messages within a
//! budget. An assistant answer that called tools becomes one prompt message per step, each
//! with its calls and their results, as the model saw them.

use serde_json::Value;

use super::GenerationSettings;
use crate::model::{MessagePart, PartKind, Role, StoredMessage};
use crate::ports::{PromptMessage, ToolCall, ToolResult};

/// What the chat model is told about the document tools, after the system prompt.
const TOOLS_PROMPT: &str = "You can write documents that appear beside the chat. Use createDocument for \
substantial content the user is likely to keep or reuse (essays, articles, code, spreadsheets), or when asked to \
write a document; not for short answers or questions. After creating a document, do not repeat its content in the \
chat. Use updateDocument, with the document's id, to change a document when asked; use requestSuggestions for \
suggestions on it. Do not update a document right after creating it.";

/// The text of a message's text parts.
pub(super) fn text_of(parts: &[MessagePart]) -> String {
    parts
        .iter()
        .filter(|p| p.kind() == PartKind::Text)
        .filter_map(MessagePart::text_content)
        .collect::<Vec<_>>()
        .join("\n")
}

pub(super) fn prompt(settings: &GenerationSettings, history: &[StoredMessage], with_tools: bool) -> Vec<PromptMessage> {
    let system = if with_tools {
        format!("{}\n\n{TOOLS_PROMPT}", settings.system_prompt)
    } else {
        settings.system_prompt.clone()
    };
    let mut prompt = vec![PromptMessage::new(Role::System, system)];
    // The newest messages, up to a budget, so a long chat cannot build an unbounded prompt.
    let mut budget = 4 * settings.max_message_chars;
    let mut recent = Vec::new();
    'messages: for message in history.iter().rev() {
        if message.role == Role::System {
            continue;
        }
        for step in steps(message).into_iter().rev() {
            let size = step.content.len()
                + step.tool_calls.iter().map(|c| c.input.to_string().len()).sum::<usize>()
                + step.tool_results.iter().map(|r| r.output.to_string().len()).sum::<usize>();
            if size > budget {
                break 'messages;
            }
            budget -= size;
            recent.push(step);
        }
    }
    prompt.extend(recent.into_iter().rev());
    prompt
}

/// A stored message as prompt messages: a user's text with its attachments named; an
/// assistant's answer split at its step boundaries, each step with the tool calls that have a
/// result (a call cut short has none, and a provider refuses a call without its result).
fn steps(message: &StoredMessage) -> Vec<PromptMessage> {
    let mut steps = vec![PromptMessage::new(message.role, String::new())];
    let mut texts: Vec<Vec<&str>> = vec![Vec::new()];
    for part in &message.parts {
        let step = steps.last_mut().expect("never empty");
        match part.kind() {
            PartKind::StepStart if message.role == Role::Assistant => {
                steps.push(PromptMessage::new(message.role, String::new()));
                texts.push(Vec::new());
            }
            PartKind::Text => texts.last_mut().expect("one per step").extend(part.text_content()),
            PartKind::File => {
                let name = part.get("filename").or_else(|| part.get("name")).and_then(Value::as_str).unwrap_or("file");
                let media = part.get("mediaType").and_then(Value::as_str).unwrap_or("");
                step.content.push_str(&format!("\n[attached {name} ({media})]"));
            }
            PartKind::Tool if message.role == Role::Assistant => {
                if let Some((call, result)) = tool_exchange(part) {
                    step.tool_calls.push(call);
                    step.tool_results.push(result);
                }
            }
            _ => {}
        }
    }
    for (step, text) in steps.iter_mut().zip(texts) {
        step.content = format!("{}{}", text.join("\n"), step.content);
    }
    steps.retain(|s| !s.content.trim().is_empty() || !s.tool_calls.is_empty());
    steps
}

/// A stored tool part that has its result, as the call and the result.
fn tool_exchange(part: &MessagePart) -> Option<(ToolCall, ToolResult)> {
    let tool = part.tool()?;
    let output = match tool.state {
        "output-available" => tool.output.cloned().unwrap_or(Value::Null),
        "output-error" => serde_json::json!({"error": tool.error_text}),
        _ => return None,
    };
    let input = tool.input.filter(|i| i.is_object()).cloned().unwrap_or_else(|| serde_json::json!({}));
    let (id, name) = (tool.tool_call_id.to_owned(), tool.tool_name.to_owned());
    Some((ToolCall { id: id.clone(), name: name.clone(), input }, ToolResult { call_id: id, name, output }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::ids::{ChatId, MessageId};

    fn message(role: Role, parts: Vec<Value>) -> StoredMessage {
        StoredMessage {
            id: MessageId::new(),
            chat_id: ChatId::new(),
            role,
            parts: parts.into_iter().map(|p| MessagePart::from_value(p).unwrap()).collect(),
            attachments: vec![],
            created_at: crate::time::now(),
        }
    }

    #[test]
    fn a_tool_using_answer_becomes_one_message_per_step_with_its_results() {
        let history = [
            message(Role::User, vec![json!({"type": "text", "text": "write about rivers"})]),
            message(
                Role::Assistant,
                vec![
                    json!({"type": "text", "text": "Writing."}),
                    json!({"type": "tool-createDocument", "toolCallId": "c1", "state": "output-available",
                           "input": {"title": "Rivers", "kind": "text"}, "output": {"id": "d1"}}),
                    json!({"type": "tool-updateDocument", "toolCallId": "c2", "state": "output-error",
                           "input": {"id": "x"}, "errorText": "not_found:document"}),
                    json!({"type": "tool-requestSuggestions", "toolCallId": "c3", "state": "input-available",
                           "input": {"documentId": "d1"}}),
                    json!({"type": "step-start"}),
                    json!({"type": "text", "text": "Done."}),
                ],
            ),
        ];
        let prompt = prompt(&GenerationSettings::default(), &history, true);
        assert!(prompt[0].content.contains("createDocument"), "the tools are explained");
        assert_eq!(prompt.len(), 4);
        assert_eq!(prompt[1].content, "write about rivers");
        let step = &prompt[2];
        assert_eq!((step.role, step.content.as_str()), (Role::Assistant, "Writing."));
        let ids: Vec<_> = step.tool_calls.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["c1", "c2"], "a call without its result is left out");
        assert_eq!(step.tool_results[0].output, json!({"id": "d1"}));
        assert_eq!(step.tool_results[1].output, json!({"error": "not_found:document"}));
        assert_eq!((prompt[3].content.as_str(), prompt[3].tool_calls.len()), ("Done.", 0));
        let plain = super::prompt(&GenerationSettings::default(), &history[..1], false);
        assert!(!plain[0].content.contains("createDocument"));
    }
}
