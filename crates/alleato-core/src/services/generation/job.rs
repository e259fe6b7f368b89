//! One generation, detached from any HTTP connection: model events become UI message chunks
//! appended to the generation's stream; the answer is stored when the model finishes, fails or
//! is stopped; then the stream ends.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::{oneshot, watch};

use super::GenerationSettings;
use super::registry::Running;
use super::writer::StreamWriter;
use crate::error::Error;
use crate::ids::{MessageId, StreamId};
use crate::model::{Chat, MessagePart, Role, StoredMessage};
use crate::ports::{ChatStore, LanguageModel, ModelEvent, ModelRequest, StreamStore, TitleUpdate};
use crate::services::ui_message::Blocks;
use crate::services::ui_stream::{self as ui, DONE};
use crate::time::{Timestamp, now};

/// One generation, run detached: it holds the ports and settings it needs, and its chat's
/// slot in the running registry, which it gives back when it ends.
pub(super) struct Job {
    pub chats: Arc<dyn ChatStore>,
    pub model: Arc<dyn LanguageModel>,
    pub streams: Arc<dyn StreamStore>,
    pub settings: Arc<GenerationSettings>,
    pub running: Running,
    pub chat: Chat,
    pub stream: StreamId,
    pub message_id: MessageId,
    pub request: ModelRequest,
    pub cancelled: watch::Receiver<bool>,
    pub title: Option<oneshot::Receiver<String>>,
}

/// How the model's part of a generation ended.
enum Outcome {
    Completed,
    Stopped,
    Failed(Error),
}

fn emit(out: &mut StreamWriter, chunk: &Value) {
    out.write(chunk.to_string().into_bytes());
}

impl Job {
    pub(super) async fn run(mut self) {
        let out = &mut StreamWriter::new(self.streams.clone(), self.stream.to_string(), self.settings.stream_ttl);
        let mut blocks = Blocks::new(self.message_id);
        emit(out, &ui::start(&self.message_id.to_string()));
        emit(out, &ui::start_step());
        let outcome = self.generate(&mut blocks, out).await;
        if let Some(end) = blocks.close() {
            emit(out, &end);
        }
        // Followers have the whole answer before any wait for the title.
        out.flush().await;
        let mut parts = blocks.parts();
        if let Outcome::Failed(err) = &outcome {
            tracing::warn!(chat = %self.chat.id, error = %err, "generation failed");
            // Kept with the partial answer, so a reload shows the reply was cut short and why.
            parts.push(
                MessagePart::from_value(
                    json!({"type": "data-error", "data": {"code": err.code(), "message": err.public_message()}}),
                )
                .expect("a valid data part"),
            );
        }
        // A new chat's title, if it arrives in reasonable time, is stored with the answer.
        let title = match self.title.take() {
            Some(title) => tokio::time::timeout(Duration::from_secs(10), title).await.ok().and_then(Result::ok),
            None => None,
        };
        // Stored before the stream says it is finished: a client that reloads on `finish`
        // finds the answer.
        let message = StoredMessage {
            id: self.message_id,
            chat_id: self.chat.id,
            role: Role::Assistant,
            parts,
            attachments: vec![],
            created_at: now(),
        };
        let answer = (!message.parts.is_empty()).then_some(&message);
        let update = title.map(|title| TitleUpdate {
            chat: self.chat.id,
            expected: Chat::DEFAULT_TITLE.into(),
            title,
            at: now(),
        });
        match self.chats.finish_generation(answer, update.as_ref()).await {
            Ok(true) => {
                if let Some(update) = update {
                    emit(out, &ui::data("chat-title", Value::String(update.title)));
                }
            }
            Ok(false) => {}
            Err(err) => {
                tracing::error!(chat = %self.chat.id, error = %err, "could not store the assistant message");
                // The title does not depend on the answer: it still goes in alone.
                if let Some(t) = &update
                    && let Err(err) = self.chats.set_title_if(t.chat, &t.expected, &t.title, t.at).await
                {
                    tracing::warn!(chat = %self.chat.id, error = %err, "could not store the chat title");
                }
            }
        }
        // The answer is stored: the chat is free for its next message before anyone reads
        // `finish` (a client that sends on `finish` must not find the reply still running).
        self.running.release(self.chat.id);
        match outcome {
            Outcome::Failed(err) => emit(out, &ui::error(&err.public_message())),
            Outcome::Completed | Outcome::Stopped => {}
        }
        emit(out, &ui::finish_step());
        emit(out, &ui::finish());
        out.write(DONE.as_bytes().to_vec());
        // Every chunk is in the stream before it is marked finished.
        out.flush().await;
        let id = self.stream.to_string();
        if let Err(err) = self.streams.finish(&id, self.settings.finished_stream_ttl).await {
            tracing::warn!(stream = %id, error = %err, "could not finish the generation stream");
        }
    }

    async fn generate(&mut self, blocks: &mut Blocks, out: &mut StreamWriter) -> Outcome {
        // One stop watcher for the whole generation: building it per chunk would register a
        // timer per chunk.
        let stop = self.stop_requested();
        tokio::pin!(stop);
        let opening = self.model.stream(self.request.clone());
        tokio::pin!(opening);
        // The start chunks go out while the model's answer begins.
        let stream = loop {
            tokio::select! {
                biased;
                () = out.progress() => {}
                _ = &mut stop => return Outcome::Stopped,
                result = &mut opening => break result,
            }
        };
        let mut stream = match stream {
            Ok(stream) => stream,
            Err(err) => return Outcome::Failed(err),
        };
        loop {
            let event = tokio::select! {
                // Polled first: a write that is done makes way for the next before the model
                // is read again.
                biased;
                () = out.progress() => continue,
                _ = &mut stop => return Outcome::Stopped,
                event = stream.next() => event,
            };
            let chunks = match event {
                None => return Outcome::Completed,
                Some(Err(err)) => return Outcome::Failed(err),
                Some(Ok(ModelEvent::TextDelta(delta))) if !delta.is_empty() => blocks.delta("text", &delta),
                Some(Ok(ModelEvent::ReasoningDelta(delta))) if !delta.is_empty() => blocks.delta("reasoning", &delta),
                Some(Ok(ModelEvent::Usage { input_tokens, output_tokens })) => {
                    tracing::info!(chat = %self.chat.id, input_tokens, output_tokens, "model usage");
                    continue;
                }
                Some(Ok(_)) => continue,
            };
            for chunk in &chunks {
                emit(out, chunk);
            }
        }
    }

    /// Resolves when a stop is requested: here, through the running registry's switch, or on
    /// any instance, through the streams port (which wakes this wait; nothing polls).
    fn stop_requested(&self) -> impl Future<Output = Timestamp> + use<> {
        let mut local = self.cancelled.clone();
        let (streams, id) = (self.streams.clone(), self.stream.to_string());
        async move {
            tokio::select! {
                _ = local.wait_for(|stop| *stop) => {},
                () = streams.wait_for_stop(&id) => {},
            }
            now()
        }
    }
}
