use std::time::Duration;

use alleato_core::Result;
use alleato_core::model::Role;
use alleato_core::ports::{LanguageModel, ModelEvent, ModelRequest};
use async_trait::async_trait;
use futures::stream::{self, BoxStream, StreamExt};

use crate::mock_tools as tools;

/// A deterministic stand-in for a language model: it answers from the user's own words, word by
/// word, with a fixed delay between chunks. The same prompt always gets the same answer.
///
/// By model id: one containing `title` answers with the first words of the message (a title);
/// one containing `reasoning` streams a short reasoning first.
///
/// Offered the document tools, it calls them for recognisable requests: "write a document
/// about rivers" calls `createDocument {title: "Rivers", kind: "text"}` ("code", "script" or
/// "program" make it `code`; "spreadsheet", "sheet" or "table" make it `sheet`); "update it to
/// mention deltas" (also "edit", "change", "revise", "rewrite") calls `updateDocument` on the
/// conversation's latest document, or the id the message names; "suggest improvements" calls
/// `requestSuggestions` likewise. After tool results it sums them up in a sentence. Asked to
/// write a document's content or suggestions (the tools' own prompts), it writes a small
/// document of the kind asked, or suggestions as JSON lines on the document's sentences.
#[derive(Debug, Clone)]
pub struct MockModel {
    chunk_delay: Duration,
    reply_words: usize,
}

const PREAMBLE: &str =
    "This is the mock model: no language model is configured, so Alleato answers with your own words.";

impl MockModel {
    /// A mock that pauses `chunk_delay` between streamed words.
    pub fn new(chunk_delay: Duration) -> Self {
        Self { chunk_delay, reply_words: Self::MIN_WORDS }
    }

    /// Replies of at least `words` words from 40 on (benchmarks of long answers), and of
    /// exactly `words` below that: the start of the usual reply, which still says it is the
    /// mock (a benchmark matching another system's short test answers). At least one word.
    pub fn with_reply_words(mut self, words: usize) -> Self {
        self.reply_words = words.max(1);
        self
    }

    /// The fewest words of a reply, unless [`Self::with_reply_words`] asks for fewer.
    pub const MIN_WORDS: usize = 40;

    /// The whole reply the mock gives to `user_text` (at least 40 words).
    pub fn reply(user_text: &str) -> String {
        Self::reply_of(user_text, Self::MIN_WORDS)
    }

    fn reply_of(user_text: &str, words: usize) -> String {
        let reply = Self::full_reply(user_text, words.max(Self::MIN_WORDS));
        if words >= Self::MIN_WORDS {
            return reply;
        }
        reply.split(' ').take(words).collect::<Vec<_>>().join(" ")
    }

    fn full_reply(user_text: &str, min_words: usize) -> String {
        let words: Vec<&str> = user_text.split_whitespace().take(24).collect();
        let echo = if words.is_empty() { "nothing".to_owned() } else { words.join(" ") };
        let mut reply = format!("{PREAMBLE} You wrote: {echo}.");
        let mut i = 0;
        let mut count = reply.split_whitespace().count();
        while count < min_words {
            count += 4;
            let word = words.get(i % words.len().max(1)).copied().unwrap_or("echo");
            reply.push_str(&format!(" Word {} was {word}.", i + 1));
            i += 1;
        }
        reply
    }

    /// The title the mock gives a chat: its first six words, or `New chat`.
    pub fn title(user_text: &str) -> String {
        let title: Vec<&str> = user_text.split_whitespace().take(6).collect();
        if title.is_empty() { "New chat".to_owned() } else { title.join(" ") }
    }
}

/// Splits into chunks of one word each, keeping the spaces, as a streaming model would.
pub(crate) fn word_chunks(text: &str) -> Vec<String> {
    let mut chunks = Vec::new();
    for (i, word) in text.split(' ').enumerate() {
        chunks.push(if i == 0 { word.to_owned() } else { format!(" {word}") });
    }
    chunks
}

#[async_trait]
impl LanguageModel for MockModel {
    fn describe(&self) -> String {
        format!(
            "mock (deterministic test model, {} ms per chunk; set OPENAI_API_KEY for a real one)",
            self.chunk_delay.as_millis()
        )
    }

    async fn stream(&self, request: ModelRequest) -> Result<BoxStream<'static, Result<ModelEvent>>> {
        let user_text =
            request.messages.iter().rev().find(|m| m.role == Role::User).map(|m| m.content.clone()).unwrap_or_default();
        let mut events = Vec::new();
        if let Some(scripted) = tools::answer(&request) {
            events = scripted;
        } else if request.model.contains("title") {
            events.extend(word_chunks(&Self::title(&user_text)).into_iter().map(ModelEvent::TextDelta));
        } else {
            if request.model.contains("reasoning") {
                let thought = format!("Considering a message of {} words.", user_text.split_whitespace().count());
                events.extend(word_chunks(&thought).into_iter().map(ModelEvent::ReasoningDelta));
            }
            let reply = Self::reply_of(&user_text, self.reply_words);
            let output_tokens = reply.split_whitespace().count() as u64;
            events.extend(word_chunks(&reply).into_iter().map(ModelEvent::TextDelta));
            let input_tokens = request.messages.iter().map(|m| m.content.split_whitespace().count() as u64).sum();
            events.push(ModelEvent::Usage { input_tokens, output_tokens });
        }
        let delay = self.chunk_delay;
        Ok(stream::iter(events)
            .enumerate()
            .then(move |(i, event)| async move {
                if i > 0 && !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                Ok(event)
            })
            .boxed())
    }
}

#[cfg(test)]
mod tests {
    use alleato_core::ports::PromptMessage;

    use super::*;

    fn request(model: &str, text: &str) -> ModelRequest {
        ModelRequest::new(model, vec![PromptMessage::new(Role::User, text)])
    }

    async fn collect(model: &MockModel, req: ModelRequest) -> (String, String) {
        let mut stream = model.stream(req).await.unwrap();
        let (mut text, mut reasoning) = (String::new(), String::new());
        while let Some(event) = stream.next().await {
            match event.unwrap() {
                ModelEvent::TextDelta(d) => text.push_str(&d),
                ModelEvent::ReasoningDelta(d) => reasoning.push_str(&d),
                _ => {}
            }
        }
        (text, reasoning)
    }

    #[tokio::test]
    async fn short_replies_are_exactly_as_long_as_asked_and_still_say_they_are_the_mock() {
        let (four, _) = collect(&MockModel::new(Duration::ZERO).with_reply_words(4), request("chat", "Hi there")).await;
        assert_eq!(four, "This is the mock");
        let (one, _) = collect(&MockModel::new(Duration::ZERO).with_reply_words(0), request("chat", "Hi")).await;
        assert_eq!(one, "This", "never empty");
        let (usual, _) = collect(&MockModel::new(Duration::ZERO), request("chat", "Hi there")).await;
        let (forty, _) =
            collect(&MockModel::new(Duration::ZERO).with_reply_words(40), request("chat", "Hi there")).await;
        assert_eq!(usual, forty, "the default is unchanged");
    }

    #[tokio::test]
    async fn replies_are_deterministic_long_and_built_from_the_users_words() {
        let model = MockModel::new(Duration::ZERO);
        let (a, _) = collect(&model, request("chat", "Why is the sky blue?")).await;
        let (b, _) = collect(&model, request("chat", "Why is the sky blue?")).await;
        assert_eq!(a, b);
        assert!(a.split_whitespace().count() >= 40, "{a}");
        assert!(a.contains("Why is the sky blue?"));
        assert!(a.contains("mock model"), "clearly labelled");
    }

    #[tokio::test]
    async fn reasoning_and_title_models() {
        let model = MockModel::new(Duration::ZERO);
        let (text, reasoning) = collect(&model, request("mock-reasoning", "hello there")).await;
        assert!(!reasoning.is_empty() && !text.is_empty());
        let (title, _) = collect(&model, request("mock-title", "plan a trip to Lisbon in May with kids")).await;
        assert_eq!(title, "plan a trip to Lisbon in");
    }
}

#[cfg(test)]
mod conformance {
    alleato_core::model_conformance!(alleato_core::testkit::model::ModelUnderTest::new(
        super::MockModel::new(std::time::Duration::from_millis(1)),
        "chat-model"
    ));
}
