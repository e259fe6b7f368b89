//! A new chat's title, chosen by the model in the background.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::oneshot;

use crate::error::{Error, Result, Surface};
use crate::ids::ChatId;
use crate::model::{Chat, Role};
use crate::ports::{ChatStore, LanguageModel, ModelEvent, ModelRequest, PromptMessage};
use crate::time::now;

/// Names a new chat in the background. The title goes to the generation, which stores it with
/// the answer (one write); if the generation stopped waiting, it is stored here. Either way it
/// is set only while the chat still has its default title: the owner may rename it, or change
/// anything else, meanwhile.
pub(super) fn spawn(
    chats: Arc<dyn ChatStore>,
    model: Arc<dyn LanguageModel>,
    title_model: String,
    chat: ChatId,
    text: String,
) -> oneshot::Receiver<String> {
    let (tx, rx) = oneshot::channel();
    crate::rt::spawn(async move {
        let title = match generate(model.as_ref(), title_model, &text).await {
            Ok(title) => title,
            Err(err) => {
                tracing::warn!(error = %err, "title generation failed; the chat keeps its default title");
                return;
            }
        };
        let Err(title) = tx.send(title) else { return };
        match chats.set_title_if(chat, Chat::DEFAULT_TITLE, &title, now()).await {
            Ok(true) => {}
            Ok(false) => tracing::debug!(%chat, "the chat was renamed or deleted first; keeping that"),
            Err(err) => tracing::warn!(%chat, error = %err, "could not store the chat title"),
        }
    });
    rx
}

async fn generate(model: &dyn LanguageModel, title_model: String, text: &str) -> Result<String> {
    let request = ModelRequest::new(
        title_model,
        vec![
            PromptMessage::new(
                Role::System,
                "Write a short title (2 to 6 words) for a chat that starts with the user's message. \
                 Reply with the title only: no quotes, no punctuation at the end.",
            ),
            PromptMessage::new(Role::User, text.chars().take(2000).collect::<String>()),
        ],
    );
    let mut stream = crate::rt::timeout(Duration::from_secs(30), model.stream(request))
        .await
        .map_err(|_| Error::unavailable(Surface::Model, "title generation timed out"))??;
    let mut title = String::new();
    while let Some(event) = stream.next().await {
        if let ModelEvent::TextDelta(delta) = event? {
            title.push_str(&delta);
        }
        if title.len() > 400 {
            break;
        }
    }
    let cleaned = clean_title(&title);
    Chat::normalise_title(&cleaned)
}

/// Strips the decoration models like to add around titles.
fn clean_title(raw: &str) -> String {
    let line = raw.lines().find(|l| !l.trim().is_empty()).unwrap_or_default();
    let trimmed =
        line.trim().trim_start_matches(['#', '*', '"', '\'', ' ']).trim_end_matches(['"', '\'', '*', '.', ' ']);
    let trimmed = trimmed.strip_prefix("Title:").unwrap_or(trimmed).trim();
    trimmed.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_lose_their_decoration() {
        assert_eq!(clean_title("\"Trip to Lisbon\"\n"), "Trip to Lisbon");
        assert_eq!(clean_title("## Title: Rust tips."), "Rust tips");
        assert_eq!(clean_title(&"word ".repeat(40)).chars().count(), 80);
    }
}
