//! The mock model's tool use, scripted so that everything about tools runs offline and in
//! tests: which call a message makes, what the mock says after the results, and the content it
//! writes when a tool asks for a document or for suggestions.

use alleato_core::model::Role;
use alleato_core::ports::{ModelEvent, ModelRequest, ToolCall, ToolResult};
use alleato_core::services::tools::{
    CREATE_DOCUMENT, DOCUMENT_PROMPT, REQUEST_SUGGESTIONS, SUGGESTIONS_PROMPT, UPDATE_DOCUMENT,
};
use serde_json::{Value, json};

use crate::mock::word_chunks;

/// The events of a scripted answer to `request`, or `None` for the usual echo.
pub(crate) fn answer(request: &ModelRequest) -> Option<Vec<ModelEvent>> {
    let system = request.messages.first().filter(|m| m.role == Role::System).map_or("", |m| m.content.as_str());
    let last = request.messages.last()?;
    if system.starts_with(DOCUMENT_PROMPT) {
        return Some(text(&document(&last.content)));
    }
    if system == SUGGESTIONS_PROMPT {
        return Some(text(&suggestions(&last.content)));
    }
    if request.tools.is_empty() {
        return None;
    }
    if last.role == Role::Assistant && !last.tool_results.is_empty() {
        return Some(text(&summary(&last.tool_results)));
    }
    if last.role != Role::User {
        return None;
    }
    let (name, input) = intended_call(request, &last.content)?;
    let steps = request.messages.iter().filter(|m| !m.tool_calls.is_empty()).count();
    Some(call(format!("call_mock_{}", steps + 1), name, input))
}

/// The tool a user's message asks for, if it is one the request offers.
fn intended_call(request: &ModelRequest, message: &str) -> Option<(&'static str, Value)> {
    let lower = message.to_lowercase();
    let offered = |name: &str| request.tools.iter().any(|t| t.name == name);
    let has = |words: &[&str]| words.iter().any(|w| lower.contains(w));
    let document = || named_id(message).or_else(|| latest_document(request));
    if has(&["suggest"]) && offered(REQUEST_SUGGESTIONS) {
        return Some((REQUEST_SUGGESTIONS, json!({"documentId": document()?})));
    }
    if has(&["update", "edit ", "change", "revise", "rewrite"]) && offered(UPDATE_DOCUMENT) {
        return Some((UPDATE_DOCUMENT, json!({"id": document()?, "description": message.trim()})));
    }
    let nouns = ["document", "essay", "article", "story", "code", "script", "program", "spreadsheet", "sheet", "table"];
    if has(&["write", "create", "make", "draft"]) && has(&nouns) && offered(CREATE_DOCUMENT) {
        let kind = if has(&["code", "script", "program"]) {
            "code"
        } else if has(&["spreadsheet", "sheet", "table"]) {
            "sheet"
        } else {
            "text"
        };
        return Some((CREATE_DOCUMENT, json!({"title": title(message), "kind": kind})));
    }
    None
}

/// The topic after "about", or the message's first words, as a title.
fn title(message: &str) -> String {
    // ASCII lowercasing keeps every byte where it was, so a position in `lower` is one in
    // `message` (full Unicode lowercasing can change lengths: "İ" grows from 2 bytes to 3).
    let lower = message.to_ascii_lowercase();
    let topic = match lower.rfind(" about ") {
        Some(at) => &message[at + " about ".len()..],
        None => message,
    };
    let words: Vec<&str> = topic.split_whitespace().take(8).collect();
    let joined = words.join(" ");
    let joined = joined.trim_matches(|c: char| !c.is_alphanumeric());
    let mut chars = joined.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => "Untitled".into(),
    }
}

/// A UUID written in the message, if any.
fn named_id(message: &str) -> Option<String> {
    message
        .split(|c: char| !(c.is_ascii_hexdigit() || c == '-'))
        .find(|word| word.len() == 36 && word.matches('-').count() == 4)
        .map(str::to_owned)
}

/// The newest document a tool of this conversation made or touched.
fn latest_document(request: &ModelRequest) -> Option<String> {
    request
        .messages
        .iter()
        .rev()
        .flat_map(|m| m.tool_results.iter().rev())
        .find_map(|r| r.output.get("id").and_then(Value::as_str).map(str::to_owned))
}

/// A tool call streamed as a provider does: its start, its arguments in pieces, then whole.
fn call(id: String, name: &str, input: Value) -> Vec<ModelEvent> {
    let arguments = input.to_string();
    let mut events = vec![ModelEvent::ToolInputStart { id: id.clone(), name: name.into() }];
    let chars: Vec<char> = arguments.chars().collect();
    events.extend(
        chars.chunks(12).map(|piece| ModelEvent::ToolInputDelta { id: id.clone(), delta: piece.iter().collect() }),
    );
    events.push(ModelEvent::ToolCall(ToolCall { id, name: name.into(), input }));
    events
}

/// What the mock says once its tools answered.
fn summary(results: &[ToolResult]) -> String {
    let sentences: Vec<String> = results
        .iter()
        .map(|result| {
            let field = |name: &str| result.output.get(name).and_then(Value::as_str).unwrap_or("the document");
            if let Some(error) = result.output.get("error") {
                let error = error.as_str().map_or_else(|| error.to_string(), str::to_owned);
                return format!("The {} tool failed: {error}", result.name);
            }
            match result.name.as_str() {
                CREATE_DOCUMENT => format!("I wrote \"{}\"; the document is ready.", field("title")),
                UPDATE_DOCUMENT => format!("I updated \"{}\".", field("title")),
                REQUEST_SUGGESTIONS => format!(
                    "I added {} suggestions to \"{}\".",
                    result.output.get("suggestions").and_then(Value::as_u64).unwrap_or(0),
                    field("title")
                ),
                other => format!("The {other} tool answered."),
            }
        })
        .collect();
    format!("(Mock model.) {}", sentences.join(" "))
}

/// A small document of the kind the instruction asks for; an update keeps the old notes and
/// adds the change.
fn document(instruction: &str) -> String {
    let line =
        |key: &str| instruction.lines().find_map(|l| l.strip_prefix(key)).map(str::trim).unwrap_or_default().to_owned();
    let (title, kind) = (line("Title:"), line("Kind:"));
    let change = instruction
        .split_once("make this change: ")
        .map(|(_, rest)| rest.lines().next().unwrap_or_default().trim().to_owned());
    let previous: Vec<&str> = instruction.lines().filter(|l| l.starts_with("- Revised:")).collect();
    match kind.as_str() {
        "code" => format!(
            "# {title}\n# Written by the mock model (no language model is configured).\n\ndef main():\n    \
             print(\"{}\")\n\n\nif __name__ == \"__main__\":\n    main()\n",
            title.replace('"', "'")
        ),
        "sheet" => format!("item,value\n\"{}\",1\nmock model,2\n", title.replace('"', "'")),
        _ => {
            let mut text = format!(
                "# {title}\n\nThis document about {title} was written by the mock model. No language model is \
                 configured, so it only sketches the subject.\n\n## Notes\n\n- Subject: {title}\n"
            );
            for line in previous {
                text.push_str(line);
                text.push('\n');
            }
            if let Some(change) = change {
                text.push_str(&format!("- Revised: {change}\n"));
            }
            text
        }
    }
}

/// Suggestions on the first sentences of a document's prose, one JSON object per line.
fn suggestions(document: &str) -> String {
    document
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#') && !l.starts_with('-'))
        .flat_map(|l| l.split(". "))
        .map(|s| s.trim().trim_end_matches('.'))
        .filter(|s| s.split_whitespace().count() >= 3)
        .take(3)
        .map(|sentence| {
            json!({
                "originalSentence": sentence,
                "suggestedSentence": format!("{sentence}, said more plainly"),
                "description": "Mock suggestion: make the sentence plainer.",
            })
            .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A scripted text answer, word by word.
fn text(answer: &str) -> Vec<ModelEvent> {
    word_chunks(answer).into_iter().map(ModelEvent::TextDelta).collect()
}

#[cfg(test)]
mod tests {
    use alleato_core::ports::PromptMessage;
    use alleato_core::services::tools::definitions;

    use super::*;

    fn offered(messages: Vec<PromptMessage>) -> ModelRequest {
        ModelRequest { model: "mock-chat".into(), messages, tools: definitions() }
    }

    fn first_call(events: &[ModelEvent]) -> &ToolCall {
        events.iter().find_map(|e| if let ModelEvent::ToolCall(c) = e { Some(c) } else { None }).expect("a call")
    }

    #[test]
    fn recognisable_requests_call_the_tools_with_streamed_arguments() {
        let events = answer(&offered(vec![PromptMessage::new(Role::User, "Write a document about rivers")])).unwrap();
        assert!(matches!(&events[0], ModelEvent::ToolInputStart { name, .. } if name == CREATE_DOCUMENT));
        let streamed: String = events
            .iter()
            .filter_map(|e| if let ModelEvent::ToolInputDelta { delta, .. } = e { Some(delta.as_str()) } else { None })
            .collect();
        let call = first_call(&events);
        assert_eq!(call.input, json!({"title": "Rivers", "kind": "text"}));
        assert_eq!(serde_json::from_str::<Value>(&streamed).unwrap(), call.input, "the pieces make the input");
        let code = answer(&offered(vec![PromptMessage::new(Role::User, "write a python script about primes")]));
        assert_eq!(first_call(&code.unwrap()).input["kind"], "code");
        assert!(answer(&offered(vec![PromptMessage::new(Role::User, "Why is the sky blue?")])).is_none());
        let no_tools = ModelRequest::new("mock-chat", vec![PromptMessage::new(Role::User, "write a document about x")]);
        assert!(answer(&no_tools).is_none(), "only offered tools are called");
    }

    #[test]
    fn titles_come_from_any_text_without_panicking() {
        // Lowercasing "İ" takes a byte more: a position found in the lowercase text is not one
        // in the message.
        assert_eq!(title("İ write a document about émigrés"), "Émigrés");
        assert_eq!(title("İİİİİİİİ write a document about x"), "X");
        assert_eq!(title("write a document about ???"), "Untitled");
    }

    #[test]
    fn updates_and_suggestions_find_the_conversations_document_or_the_named_one() {
        let mut made = PromptMessage::new(Role::Assistant, "");
        made.tool_results.push(ToolResult {
            call_id: "c".into(),
            name: CREATE_DOCUMENT.into(),
            output: json!({"id": "doc-1", "title": "Rivers"}),
        });
        let ask = |text: &str| {
            let events = answer(&offered(vec![made.clone(), PromptMessage::new(Role::User, text)])).unwrap();
            first_call(&events).clone()
        };
        let update = ask("update it to mention deltas");
        assert_eq!((update.name.as_str(), update.input["id"].as_str()), (UPDATE_DOCUMENT, Some("doc-1")));
        assert_eq!(ask("suggest improvements").input, json!({"documentId": "doc-1"}));
        let named = "0190e0a0-0000-7000-8000-000000000001";
        assert_eq!(ask(&format!("update {named} to say hi")).input["id"], named);
        assert!(answer(&offered(vec![PromptMessage::new(Role::User, "suggest improvements")])).is_none());
    }

    #[test]
    fn documents_and_suggestions_fit_the_tools_prompts() {
        let doc = document("Title: Rivers\nKind: text\n\nWrite this document.");
        assert!(doc.starts_with("# Rivers\n"));
        let revised = document(&format!(
            "Title: Rivers\nKind: text\n\nRewrite ... make this change: mention deltas\n\nThe document:\n{doc}"
        ));
        assert!(revised.contains("- Revised: mention deltas"));
        let lines: Vec<Value> = suggestions(&doc).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert!(!lines.is_empty() && lines.len() <= 5);
        for line in lines {
            assert!(doc.contains(line["originalSentence"].as_str().unwrap()));
        }
    }
}
