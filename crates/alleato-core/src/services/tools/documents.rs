//! `createDocument` and `updateDocument`: the content is written by the model, streamed to
//! the chat as it comes (`data-textDelta` pieces for text; the whole content so far as lines finish,
//! in `data-codeDelta` and `data-sheetDelta`, as the original clients expect), then saved as a
//! version.

use futures::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};

use super::prompts::{conversation, document_system};
use super::{ToolOutcome, ToolRun, Toolbox};
use crate::error::{Error, Result, Surface};
use crate::ids::DocumentId;
use crate::model::{Document, DocumentKind, Role};
use crate::ports::{ModelEvent, ModelRequest, PromptMessage};
use crate::services::documents::NewDocument;

#[derive(Deserialize)]
pub(super) struct CreateInput {
    title: String,
    kind: String,
}

#[derive(Deserialize)]
pub(super) struct UpdateInput {
    id: String,
    description: String,
}

pub(super) async fn create(tools: &Toolbox, input: CreateInput, run: &ToolRun<'_>) -> ToolOutcome {
    let kind = match DocumentKind::parse(&input.kind) {
        Some(DocumentKind::Image) => {
            return ToolOutcome::BadInput("This server does not generate images; use text, code or sheet.".into());
        }
        Some(kind) => kind,
        None => return ToolOutcome::BadInput("`kind` must be text, code or sheet.".into()),
    };
    let title = match Document::check_title(&input.title) {
        Ok(title) => title,
        Err(err) => return ToolOutcome::BadInput(err.public_message()),
    };
    let id = DocumentId::new();
    announce(run, id, &title, kind).await;
    let instruction = format!(
        "Title: {title}\nKind: {}\n\nWrite this document for the conversation below.\n\n{}",
        kind.as_str(),
        conversation(run.conversation)
    );
    let document = NewDocument { id: Some(id), title, kind, content: String::new() };
    write_and_save(tools, document, instruction, run, "A document was created and is now visible to the user.").await
}

pub(super) async fn update(tools: &Toolbox, input: UpdateInput, run: &ToolRun<'_>) -> ToolOutcome {
    let latest = match latest_version(tools, run, &input.id).await {
        Ok(latest) => latest,
        Err(err) => return ToolOutcome::failed(&err),
    };
    if input.description.trim().is_empty() {
        return ToolOutcome::BadInput("`description` must say what to change.".into());
    }
    announce(run, latest.id, &latest.title, latest.kind).await;
    let instruction = format!(
        "Title: {}\nKind: {}\n\nRewrite the document below to make this change: {}\nKeep what the change does not \
         touch.\n\nThe document:\n{}",
        latest.title,
        latest.kind.as_str(),
        input.description.trim(),
        latest.content.as_deref().unwrap_or_default()
    );
    let document = NewDocument { id: Some(latest.id), title: latest.title, kind: latest.kind, content: String::new() };
    write_and_save(tools, document, instruction, run, "The document has been updated successfully.").await
}

/// Has the model write `document`'s content as `instruction` says, saves it as a version, and
/// ends the document's stream; the output tells the model `done`.
async fn write_and_save(
    tools: &Toolbox,
    mut document: NewDocument,
    instruction: String,
    run: &ToolRun<'_>,
    done: &str,
) -> ToolOutcome {
    document.content = match write(tools, document.kind, instruction, run).await {
        Ok(content) => content,
        Err(err) => return ToolOutcome::failed(&err),
    };
    let (id, title, kind) = (document.id, document.title.clone(), document.kind);
    if let Err(err) = tools.documents.save(run.who, document).await {
        return ToolOutcome::failed(&err);
    }
    run.send("finish", Value::Null).await;
    ToolOutcome::Output(json!({"id": id, "title": title, "kind": kind.as_str(), "content": done}))
}

/// The newest version of one of the caller's documents; any other id (someone else's, unknown,
/// not an id) is `not_found:document`, as over HTTP.
pub(super) async fn latest_version(tools: &Toolbox, run: &ToolRun<'_>, raw_id: &str) -> Result<Document> {
    let id: DocumentId = raw_id.trim().parse().map_err(|_| Error::not_found(Surface::Document))?;
    let mut versions = tools.documents.versions(run.who, id).await?;
    versions.pop().ok_or_else(|| Error::not_found(Surface::Document))
}

/// The parts that open a document beside the chat, empty.
async fn announce(run: &ToolRun<'_>, id: DocumentId, title: &str, kind: DocumentKind) {
    run.send("kind", json!(kind.as_str())).await;
    run.send("id", json!(id)).await;
    run.send("title", json!(title)).await;
    run.send("clear", Value::Null).await;
}

/// Has the model write a document's content, streaming it as it comes. The content is cut at
/// the size a version may have.
async fn write(tools: &Toolbox, kind: DocumentKind, instruction: String, run: &ToolRun<'_>) -> Result<String> {
    let request = ModelRequest::new(
        tools.writer_model.clone(),
        vec![PromptMessage::new(Role::System, document_system(kind)), PromptMessage::new(Role::User, instruction)],
    );
    let mut stream = tools.model.stream(request).await?;
    let mut raw = String::new();
    let mut sent_bytes = 0;
    while let Some(event) = stream.next().await {
        let ModelEvent::TextDelta(delta) = event? else { continue };
        let room = Document::MAX_CONTENT_BYTES.saturating_sub(raw.len());
        let delta = cut(&delta, room);
        raw.push_str(delta);
        match kind {
            DocumentKind::Code | DocumentKind::Sheet => {
                if resend_whole(delta, raw.len(), sent_bytes) {
                    sent_bytes = raw.len();
                    run.send(delta_name(kind), json!(unfenced(&raw))).await;
                }
            }
            DocumentKind::Text | DocumentKind::Image => {
                if !delta.is_empty() {
                    run.send("textDelta", json!(delta)).await;
                }
            }
        }
        if raw.len() >= Document::MAX_CONTENT_BYTES {
            break; // as long as a version may be; dropping the stream ends the request
        }
    }
    let content = match kind {
        DocumentKind::Code | DocumentKind::Sheet => {
            let content = unfenced(&raw).to_owned();
            run.send(delta_name(kind), json!(content)).await;
            content
        }
        DocumentKind::Text | DocumentKind::Image => raw,
    };
    Ok(content)
}

/// Whether code or a sheet goes out whole again: when a line is finished and the content grew
/// by an eighth since the last send. Once per line while it is short; however many lines a
/// megabyte has, about nine times its size sent in all (not a copy per line).
fn resend_whole(delta: &str, len: usize, sent: usize) -> bool {
    delta.contains('\n') && len - sent >= sent / 8
}

fn delta_name(kind: DocumentKind) -> &'static str {
    if kind == DocumentKind::Sheet { "sheetDelta" } else { "codeDelta" }
}

/// The longest start of `text` within `bytes`, on a character boundary.
fn cut(text: &str, bytes: usize) -> &str {
    if text.len() <= bytes {
        return text;
    }
    let mut end = bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Code or CSV without the Markdown fence models like to put around it, even when told not to.
fn unfenced(raw: &str) -> &str {
    let mut text = raw.trim_start();
    if text.starts_with("```") {
        text = text.split_once('\n').map_or("", |(_, rest)| rest);
    }
    let trimmed = text.trim_end();
    match trimmed.strip_suffix("```") {
        Some(body) => body.trim_end(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fences_are_taken_off_code_even_while_it_streams() {
        assert_eq!(unfenced("```python\nprint(1)\n```\n"), "print(1)");
        assert_eq!(unfenced("```python\nprint(1)\n"), "print(1)\n");
        assert_eq!(unfenced("a,b\n1,2"), "a,b\n1,2");
        assert_eq!(unfenced("```"), "");
    }

    #[test]
    fn code_goes_out_whole_per_line_while_short_and_in_bounded_bytes_however_many_lines() {
        let (mut len, mut sent, mut sends, mut total) = (0, 0, 0, 0);
        for _ in 0..Document::MAX_CONTENT_BYTES / 2 {
            len += "1\n".len();
            if resend_whole("1\n", len, sent) {
                sent = len;
                sends += 1;
                total += len;
            }
            if len == 16 {
                assert_eq!(sends, 8, "every one of the first lines");
            }
        }
        assert!(total <= 10 * Document::MAX_CONTENT_BYTES, "{total} bytes in {sends} sends");
        assert!(!resend_whole("no line end", 1000, 10));
    }

    #[test]
    fn cuts_fall_on_character_boundaries() {
        assert_eq!(cut("héllo", 2), "h");
        assert_eq!(cut("héllo", 3), "hé");
        assert_eq!(cut("abc", 10), "abc");
    }
}
