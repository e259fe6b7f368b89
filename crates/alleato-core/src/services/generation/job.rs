//! One generation, detached from any HTTP connection: model events become UI message chunks
//! appended to the generation's stream; when the model calls tools, they run and the model
//! continues with their results, step after step up to a limit; the answer is stored when the
//! model finishes, fails or is stopped; then the stream ends.

use std::collections::HashSet;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot, watch};

use super::GenerationSettings;
use super::registry::Running;
use super::writer::StreamWriter;
use crate::error::Error;
use crate::ids::{MessageId, StreamId};
use crate::model::{Chat, MessagePart, Role, StoredMessage};
use crate::ports::{
    ChatStore, LanguageModel, ModelEvent, ModelRequest, PromptMessage, StreamStore, TitleUpdate, ToolCall, ToolResult,
};
use crate::services::auth::Principal;
use crate::services::tools::{ToolOutcome, ToolRun, Toolbox};
use crate::services::ui_message::{Blocks, Parts};
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
    pub who: Principal,
    pub chat: Chat,
    pub stream: StreamId,
    pub message_id: MessageId,
    pub request: ModelRequest,
    /// The tools, when the request offers any.
    pub tools: Option<Toolbox>,
    pub cancelled: watch::Receiver<bool>,
    pub title: Option<oneshot::Receiver<String>>,
}

/// How the model's part of a generation ended.
enum Outcome {
    Completed,
    Stopped,
    Failed(Error),
}

/// The most tool calls one step may make; more are answered with an error, unrun.
const MAX_CALLS_PER_STEP: usize = 8;

type StopSignal = Pin<Box<dyn Future<Output = Timestamp> + Send>>;

/// The generation's stream as it is written, and the parts it amounts to.
struct Out {
    writer: StreamWriter,
    parts: Parts,
}

impl Out {
    fn emit(&mut self, chunk: &Value) {
        self.parts.take(chunk);
        self.writer.write(chunk.to_string().into_bytes());
    }
}

/// What one step of the model said and asked for.
#[derive(Default)]
struct Step {
    text: String,
    calls: Vec<ToolCall>,
}

impl Job {
    pub(super) async fn run(mut self) {
        let writer = StreamWriter::new(self.streams.clone(), self.stream.to_string(), self.settings.stream_ttl);
        let out = &mut Out { writer, parts: Parts::default() };
        let mut blocks = Blocks::new(self.message_id);
        out.emit(&ui::start(&self.message_id.to_string()));
        out.emit(&ui::start_step());
        let outcome = self.generate(&mut blocks, out).await;
        if let Some(end) = blocks.close() {
            out.emit(&end);
        }
        // A tool cut short by a stop or a failure still gets its end, in the stream and stored.
        let why = match &outcome {
            Outcome::Stopped => "Stopped before the tool finished.",
            _ => "The tool did not finish.",
        };
        for call in out.parts.unanswered_calls() {
            out.emit(&ui::tool_output_error(&call, why));
        }
        // Followers have the whole answer before any wait for the title.
        out.writer.flush().await;
        let mut parts = out.parts.finish(why);
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
            Some(title) => crate::rt::timeout(Duration::from_secs(10), title).await.ok().and_then(Result::ok),
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
                    out.emit(&ui::data("chat-title", Value::String(update.title)));
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
            Outcome::Failed(err) => out.emit(&ui::error(&err.public_message())),
            Outcome::Completed | Outcome::Stopped => {}
        }
        out.emit(&ui::finish_step());
        out.emit(&ui::finish());
        out.writer.write(DONE.as_bytes().to_vec());
        // Every chunk is in the stream before it is marked finished.
        out.writer.flush().await;
        let id = self.stream.to_string();
        if let Err(err) = self.streams.finish(&id, self.settings.finished_stream_ttl).await {
            tracing::warn!(stream = %id, error = %err, "could not finish the generation stream");
        }
    }

    /// The model's steps: each streams an answer; one that calls tools has them run, and the
    /// model goes on with their results, up to [`GenerationSettings::max_steps`].
    async fn generate(&mut self, blocks: &mut Blocks, out: &mut Out) -> Outcome {
        // One stop watcher for the whole generation: building it per chunk would register a
        // timer per chunk.
        let mut stop: StopSignal = Box::pin(self.stop_requested());
        let mut request = self.request.clone();
        let mut call_ids = HashSet::new();
        for step in 1..=self.settings.max_steps.max(1) {
            if step > 1 {
                out.emit(&ui::finish_step());
                out.emit(&ui::start_step());
            }
            let said = match self.model_step(&request, blocks, out, &mut stop, &mut call_ids).await {
                Ok(said) => said,
                Err(outcome) => return outcome,
            };
            if let Some(end) = blocks.close() {
                out.emit(&end);
            }
            if said.calls.is_empty() {
                return Outcome::Completed;
            }
            let mut results = Vec::with_capacity(said.calls.len());
            for (i, call) in said.calls.iter().enumerate() {
                let outcome = if i >= MAX_CALLS_PER_STEP {
                    ToolOutcome::BadInput(format!("At most {MAX_CALLS_PER_STEP} tool calls per step."))
                } else {
                    match self.run_tool(&request, call, out, &mut stop).await {
                        Some(outcome) => outcome,
                        None => return Outcome::Stopped,
                    }
                };
                match &outcome {
                    ToolOutcome::Output(output) => out.emit(&ui::tool_output_available(&call.id, output)),
                    ToolOutcome::BadInput(error) | ToolOutcome::Failed(error) => {
                        out.emit(&ui::tool_output_error(&call.id, error));
                    }
                }
                results.push(ToolResult {
                    call_id: call.id.clone(),
                    name: call.name.clone(),
                    output: outcome.for_model(),
                });
            }
            request.messages.push(PromptMessage {
                role: Role::Assistant,
                content: said.text,
                tool_calls: said.calls,
                tool_results: results,
            });
        }
        tracing::info!(chat = %self.chat.id, steps = self.settings.max_steps, "the generation reached its step limit");
        Outcome::Completed
    }

    /// One request to the model, streamed out as it comes: text and reasoning blocks, tool
    /// inputs. Returns what it said and the tools it called, or how the generation ended.
    async fn model_step(
        &self,
        request: &ModelRequest,
        blocks: &mut Blocks,
        out: &mut Out,
        stop: &mut StopSignal,
        call_ids: &mut HashSet<String>,
    ) -> Result<Step, Outcome> {
        let opening = self.model.stream(request.clone());
        tokio::pin!(opening);
        // The start chunks go out while the model's answer begins.
        let stream = loop {
            tokio::select! {
                biased;
                () = out.writer.progress() => {}
                _ = &mut *stop => return Err(Outcome::Stopped),
                result = &mut opening => break result,
            }
        };
        let mut stream = stream.map_err(Outcome::Failed)?;
        let mut step = Step::default();
        // The provider's ids of the calls under way, and the ids the message gives them
        // (unique within the message; a provider's are only unique within its answer).
        let mut renamed = std::collections::HashMap::new();
        loop {
            let event = tokio::select! {
                // Polled first: a write that is done makes way for the next before the model
                // is read again.
                biased;
                () = out.writer.progress() => continue,
                _ = &mut *stop => return Err(Outcome::Stopped),
                event = stream.next() => event,
            };
            let chunks = match event {
                None => return Ok(step),
                Some(Err(err)) => return Err(Outcome::Failed(err)),
                Some(Ok(ModelEvent::TextDelta(delta))) if !delta.is_empty() => {
                    step.text.push_str(&delta);
                    blocks.delta("text", &delta)
                }
                Some(Ok(ModelEvent::ReasoningDelta(delta))) if !delta.is_empty() => blocks.delta("reasoning", &delta),
                Some(Ok(ModelEvent::ToolInputStart { id, name })) => {
                    let name = tool_name(name);
                    let ours = unique_call_id(call_ids, &id);
                    let start = ui::tool_input_start(&ours, &name);
                    renamed.insert(id, ours);
                    blocks.close().into_iter().chain([start]).collect()
                }
                Some(Ok(ModelEvent::ToolInputDelta { id, delta })) => {
                    // Only for a call that started: a client has nowhere to put it otherwise.
                    match renamed.get(&id) {
                        Some(ours) => vec![ui::tool_input_delta(ours, &delta)],
                        None => continue,
                    }
                }
                Some(Ok(ModelEvent::ToolCall(mut call))) => {
                    call.name = tool_name(call.name);
                    call.id = match renamed.remove(&call.id) {
                        Some(ours) => ours,
                        None => unique_call_id(call_ids, &call.id),
                    };
                    let chunk = if call.input.is_object() {
                        ui::tool_input_available(&call.id, &call.name, &call.input)
                    } else {
                        ui::tool_input_error(&call.id, &call.name, &call.input, "The input is not a JSON object.")
                    };
                    step.calls.push(call);
                    blocks.close().into_iter().chain([chunk]).collect()
                }
                Some(Ok(ModelEvent::Usage { input_tokens, output_tokens })) => {
                    tracing::info!(chat = %self.chat.id, input_tokens, output_tokens, "model usage");
                    continue;
                }
                Some(Ok(_)) => continue,
            };
            for chunk in &chunks {
                out.emit(chunk);
            }
        }
    }

    /// Runs one tool call, forwarding the data parts it streams; `None` when a stop came first
    /// (the call is dropped where it was).
    async fn run_tool(
        &self,
        request: &ModelRequest,
        call: &ToolCall,
        out: &mut Out,
        stop: &mut StopSignal,
    ) -> Option<ToolOutcome> {
        let offered = request.tools.iter().any(|t| t.name == call.name);
        let tools = match &self.tools {
            Some(tools) if offered => tools,
            _ => {
                return Some(ToolOutcome::BadInput(format!("The tool `{}` is not available.", call.name)));
            }
        };
        let (parts, mut received) = mpsc::channel(64);
        let run = ToolRun { who: &self.who, conversation: &request.messages, parts };
        let running = tools.run(call, &run);
        tokio::pin!(running);
        let outcome = loop {
            tokio::select! {
                biased;
                () = out.writer.progress() => {}
                _ = &mut *stop => return None,
                Some(chunk) = received.recv() => out.emit(&chunk),
                outcome = &mut running => break outcome,
            }
        };
        while let Ok(chunk) = received.try_recv() {
            out.emit(&chunk);
        }
        Some(outcome)
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

/// A model's tool name as a part's type can hold it (`tool-<name>`): never empty, at most 64
/// characters. Offered tools have such names; any other is refused as not available.
fn tool_name(name: String) -> String {
    if name.trim().is_empty() {
        "unknown".into()
    } else if name.chars().count() > 64 {
        name.chars().take(64).collect()
    } else {
        name
    }
}

/// The provider's call id, or a new one when it is empty or already used in this message (a
/// provider that numbers calls per step, or a hostile one): tool parts are found by id.
fn unique_call_id(used: &mut HashSet<String>, id: &str) -> String {
    let base: String = if id.trim().is_empty() { "call".into() } else { id.chars().take(100).collect() };
    let mut candidate = base.clone();
    let mut n = 1;
    while !used.insert(candidate.clone()) {
        n += 1;
        candidate = format!("{base}~{n}");
    }
    candidate
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_names_and_call_ids_fit_a_part() {
        assert_eq!(tool_name(" ".into()), "unknown", "`tool-` alone is not a part type");
        assert_eq!(tool_name("x".repeat(100)).len(), 64);
        assert_eq!(tool_name("createDocument".into()), "createDocument");
        let mut used = HashSet::new();
        assert_eq!(unique_call_id(&mut used, "call_0"), "call_0");
        assert_eq!(unique_call_id(&mut used, "call_0"), "call_0~2", "a provider that numbers calls per step");
        assert_eq!(unique_call_id(&mut used, ""), "call");
    }
}
