//! `requestSuggestions`: the model proposes edits to the newest version of a document, one
//! JSON object per line; each usable one is streamed as a `data-suggestion` as soon as its line
//! is complete, and at most five are stored together, tied to that version.

use futures::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};

use super::documents::latest_version;
use super::prompts::SUGGESTIONS_PROMPT;
use super::{ToolOutcome, ToolRun, Toolbox};
use crate::error::Result;
use crate::model::{Document, Role, Suggestion};
use crate::ports::{ModelEvent, ModelRequest, PromptMessage};
use crate::services::documents::NewSuggestion;

/// The most suggestions one call stores.
const MAX_SUGGESTIONS: usize = 5;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SuggestionsInput {
    document_id: String,
}

/// One line of the model's answer.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Proposed {
    original_sentence: String,
    suggested_sentence: String,
    #[serde(default)]
    description: Option<String>,
}

pub(super) async fn request(tools: &Toolbox, input: SuggestionsInput, run: &ToolRun<'_>) -> ToolOutcome {
    let latest = match latest_version(tools, run, &input.document_id).await {
        Ok(latest) => latest,
        Err(err) => return ToolOutcome::failed(&err),
    };
    let drafts = match propose(tools, &latest, run).await {
        Ok(drafts) => drafts,
        Err(err) => return ToolOutcome::failed(&err),
    };
    if !drafts.is_empty()
        && let Err(err) = tools.documents.store_suggestions(&drafts).await
    {
        return ToolOutcome::failed(&err);
    }
    let message = if drafts.is_empty() {
        "No suggestions were found for this document."
    } else {
        "Suggestions have been added to the document."
    };
    ToolOutcome::Output(json!({
        "id": latest.id,
        "title": latest.title,
        "kind": latest.kind.as_str(),
        "suggestions": drafts.len(),
        "message": message,
    }))
}

/// Asks the model and streams each usable suggestion as soon as its line is complete.
async fn propose(tools: &Toolbox, latest: &Document, run: &ToolRun<'_>) -> Result<Vec<Suggestion>> {
    let request = ModelRequest::new(
        tools.writer_model.clone(),
        vec![
            PromptMessage::new(Role::System, SUGGESTIONS_PROMPT),
            PromptMessage::new(Role::User, latest.content.clone().unwrap_or_default()),
        ],
    );
    let mut stream = tools.model.stream(request).await?;
    let mut pending = String::new();
    let mut drafts = Vec::new();
    let mut ended = false;
    while drafts.len() < MAX_SUGGESTIONS {
        match stream.next().await {
            Some(Ok(ModelEvent::TextDelta(delta))) => pending.push_str(&delta),
            Some(Ok(_)) => continue,
            Some(Err(err)) => return Err(err),
            None => ended = true,
        }
        // Every complete line, and the last one once the answer ends.
        while let Some(line) = next_line(&mut pending, ended) {
            if drafts.len() == MAX_SUGGESTIONS {
                break;
            }
            let Some(draft) = parse(&line, latest, run) else { continue };
            run.send("suggestion", serde_json::to_value(&draft).unwrap_or(Value::Null)).await;
            drafts.push(draft);
        }
        if ended {
            break;
        }
        if pending.len() > 4 * Suggestion::MAX_TEXT_BYTES {
            pending.clear(); // a line no suggestion can be
        }
    }
    Ok(drafts)
}

fn next_line(pending: &mut String, ended: bool) -> Option<String> {
    match pending.find('\n') {
        Some(at) => {
            let line = pending[..at].to_owned();
            pending.drain(..=at);
            Some(line)
        }
        None if ended && !pending.trim().is_empty() => Some(std::mem::take(pending)),
        None => None,
    }
}

/// A line as a suggestion, if it is one the document service accepts: anything else (a fence,
/// prose, a broken object, a sentence that is not in the document) is skipped.
fn parse(line: &str, latest: &Document, run: &ToolRun<'_>) -> Option<Suggestion> {
    let line = line.trim().trim_end_matches(',');
    if !line.starts_with('{') {
        return None;
    }
    let proposed: Proposed = serde_json::from_str(line).ok()?;
    let content = latest.content.as_deref().unwrap_or_default();
    if proposed.original_sentence.trim().is_empty() || !content.contains(proposed.original_sentence.trim()) {
        return None;
    }
    let new = NewSuggestion {
        original_text: proposed.original_sentence.trim().to_owned(),
        suggested_text: proposed.suggested_sentence,
        description: proposed.description,
    };
    super::super::documents::draft_suggestion(run.who, latest, new).ok()
}
