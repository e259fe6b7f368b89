//! Chat generation: store the user's message, stream the model's answer into a resumable
//! stream in the AI SDK UI message protocol, store the answer. The generation runs detached
//! from any HTTP connection: clients only follow its stream.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::{oneshot, watch};

use super::access;
use super::auth::Principal;
use super::follow::follow;
use super::incoming;
use super::recovery;
use super::streams::StreamOwner;
use super::ui_stream::{self as ui, DONE};
use crate::error::{Error, Result, Surface};
use crate::ids::{ChatId, MessageId, StreamId};
use crate::model::{Chat, MessagePart, PartKind, Role, StoredMessage, StreamRecord, UserKind, Visibility};
use crate::ports::{
    ChatStore, GenerationStart, KeyValueStore, LanguageModel, ModelEvent, ModelRequest, PromptMessage, StreamInfo,
    StreamStore,
};
use crate::time::{Timestamp, now};

#[derive(Debug, Clone)]
pub struct GenerationSettings {
    /// Model ids for `chat-model`, `chat-model-reasoning` and titles.
    pub chat_model: String,
    pub reasoning_model: String,
    pub title_model: String,
    /// Most characters of text in one user message.
    pub max_message_chars: usize,
    pub guest_messages_per_day: u32,
    pub regular_messages_per_day: u32,
    pub system_prompt: String,
    /// How long a running generation's stream lives after its last chunk.
    pub stream_ttl: Duration,
    /// How long a finished generation's stream can still be replayed (resume after a dropped
    /// connection); the stored message is the answer after that.
    pub finished_stream_ttl: Duration,
    /// An unfinished generation whose stream has not moved for this long, and that does not run
    /// in this process, is taken as dead (its process was killed): a resume or a stop ends it.
    /// Longer than any silence the model adapters allow (retried first bytes, idle streams).
    pub abandoned_after: Duration,
}

impl Default for GenerationSettings {
    fn default() -> Self {
        Self {
            chat_model: "gpt-4o-mini".into(),
            reasoning_model: "o4-mini".into(),
            title_model: "gpt-4o-mini".into(),
            max_message_chars: 32_000,
            guest_messages_per_day: 20,
            regular_messages_per_day: 100,
            system_prompt: "You are a friendly assistant! Keep your responses concise and helpful.".into(),
            stream_ttl: Duration::from_secs(24 * 3600),
            finished_stream_ttl: Duration::from_secs(600),
            abandoned_after: Duration::from_secs(600),
        }
    }
}

/// A user message as a client sent it.
#[derive(Debug, Clone)]
pub struct IncomingMessage {
    /// The client's id; a UUID is kept, anything else is mapped to a stable UUID. An id that
    /// already exists in the chat regenerates from that message.
    pub id: Option<String>,
    pub parts: Vec<MessagePart>,
}

#[derive(Debug, Clone)]
pub struct SendMessage {
    pub message: IncomingMessage,
    /// `chat-model`, `chat-model-reasoning`, or a configured model id.
    pub model: Option<String>,
    /// For a chat created by this message.
    pub visibility: Option<Visibility>,
}

/// A generation under way.
#[derive(Debug, Clone)]
pub struct Started {
    pub chat: Chat,
    pub stream_id: StreamId,
    pub user_message: StoredMessage,
    pub assistant_message_id: MessageId,
}

/// A chat's slot in [`GenerationService::active`], taken before anything is written so two
/// sends cannot both start a reply; given back on drop unless the generation was started.
struct Claim<'a> {
    active: &'a Mutex<HashMap<ChatId, watch::Sender<bool>>>,
    chat: ChatId,
    started: bool,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        if !self.started {
            self.active.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.chat);
        }
    }
}

#[derive(Clone)]
pub struct GenerationService {
    chats: Arc<dyn ChatStore>,
    model: Arc<dyn LanguageModel>,
    streams: Arc<dyn StreamStore>,
    kv: Arc<dyn KeyValueStore>,
    settings: Arc<GenerationSettings>,
    /// Generations running in this process, by chat, with their stop switch, so a stop
    /// reaches them at once.
    active: Arc<Mutex<HashMap<ChatId, watch::Sender<bool>>>>,
}

/// Maps a client message id to ours: UUIDs as they are, other strings (the AI SDK's default
/// ids, such as `msg-1`) to a name-based UUID within the chat, so re-sending the same id finds
/// the same message, and the same string in another chat is another message.
pub fn message_id_from_client(chat: ChatId, raw: &str) -> MessageId {
    raw.parse().unwrap_or_else(|_| MessageId(uuid::Uuid::new_v5(&chat.as_uuid(), raw.as_bytes())))
}

fn stop_key(stream: StreamId) -> String {
    format!("stop:{stream}")
}

fn text_of(parts: &[MessagePart]) -> String {
    parts
        .iter()
        .filter(|p| p.kind() == PartKind::Text)
        .filter_map(MessagePart::text_content)
        .collect::<Vec<_>>()
        .join("\n")
}

impl GenerationService {
    pub fn new(
        chats: Arc<dyn ChatStore>,
        model: Arc<dyn LanguageModel>,
        streams: Arc<dyn StreamStore>,
        kv: Arc<dyn KeyValueStore>,
        settings: GenerationSettings,
    ) -> Self {
        Self { chats, model, streams, kv, settings: Arc::new(settings), active: Arc::default() }
    }

    pub fn settings(&self) -> &GenerationSettings {
        &self.settings
    }

    pub fn model_description(&self) -> String {
        self.model.describe()
    }

    /// The model id a requested name (`chat-model`, `chat-model-reasoning` or a configured id)
    /// stands for; unknown names are a `bad_request:chat`.
    pub fn model_id(&self, requested: Option<&str>) -> Result<String> {
        let s = &self.settings;
        Ok(match requested {
            None | Some("chat-model") => s.chat_model.clone(),
            Some("chat-model-reasoning") => s.reasoning_model.clone(),
            Some(id) if id == s.chat_model || id == s.reasoning_model => id.to_owned(),
            Some(other) => {
                return Err(Error::bad_request(
                    Surface::Chat,
                    format!(
                        "Unknown model `{}`; use chat-model, chat-model-reasoning, {} or {}.",
                        other.chars().take(60).collect::<String>(),
                        s.chat_model,
                        s.reasoning_model
                    ),
                ));
            }
        })
    }

    /// Validates and stores the user's message, then starts the answer in the background.
    ///
    /// Every refusal (bad input, someone else's chat, a reply already running, the quota) comes
    /// before anything is written, so a refused send leaves nothing behind.
    pub async fn send(&self, who: &Principal, chat_id: ChatId, request: SendMessage) -> Result<Started> {
        let model = self.model_id(request.model.as_deref())?;
        let parts = request.message.parts;
        let text = self.check_parts(&parts)?;

        // Someone else's chat, public or not, cannot take messages: 404 either way.
        let existing = match self.chats.chat(chat_id).await? {
            Some(chat) if chat.user_id != who.user_id() => return Err(Error::not_found(Surface::Chat)),
            other => other,
        };
        let mut message_id =
            request.message.id.as_deref().map(|raw| message_id_from_client(chat_id, raw)).unwrap_or_default();
        let previous = match self.chats.message(message_id).await? {
            // An id used in another chat (perhaps another user's) is answered as if it were
            // free: the message gets an id of its own, and nothing confirms the other exists.
            Some(m) if m.chat_id != chat_id => {
                message_id = MessageId::new();
                None
            }
            Some(m) if m.role != Role::User => {
                return Err(Error::conflict(Surface::Message, "Only a user message can be re-sent."));
            }
            other => other,
        };

        let (cancel, cancelled) = watch::channel(false);
        let mut claim = {
            let mut active = self.active.lock().unwrap_or_else(|p| p.into_inner());
            if active.contains_key(&chat_id) {
                return Err(Error::conflict(
                    Surface::Chat,
                    "A reply is still being generated in this chat; stop it first.",
                ));
            }
            active.insert(chat_id, cancel);
            Claim { active: &self.active, chat: chat_id, started: false }
        };
        let stream_id = StreamId::new();
        self.take_quota(who, stream_id).await?;

        let (chat, created) = match existing {
            Some(chat) => (chat, false),
            None => {
                let at = now();
                let chat = Chat {
                    id: chat_id,
                    user_id: who.user_id(),
                    title: Chat::DEFAULT_TITLE.into(),
                    visibility: request.visibility.unwrap_or_default(),
                    created_at: at,
                    updated_at: at,
                };
                self.chats.insert_chat(&chat).await.map_err(|e| match e {
                    // Created by a concurrent request a moment ago; ids are never reused.
                    Error::Conflict { .. } => Error::conflict(Surface::Chat, "The chat was just created; retry."),
                    other => other,
                })?;
                (chat, true)
            }
        };
        if let Some(previous) = &previous {
            // Regenerate: the message and everything after it go (the original's edit flow).
            self.chats.delete_messages_from(chat.id, previous.created_at).await?;
        }
        let user_message = StoredMessage {
            id: message_id,
            chat_id: chat.id,
            role: Role::User,
            parts,
            attachments: vec![],
            created_at: now(),
        };
        self.chats.insert_messages(std::slice::from_ref(&user_message)).await?;

        let owner = StreamOwner::encode(who.user_id(), Some(chat.id))?;
        self.streams.create(&stream_id.to_string(), &owner, self.settings.stream_ttl).await?;
        self.chats.insert_stream(&StreamRecord { id: stream_id, chat_id: chat.id, created_at: now() }).await?;

        let history = self.chats.messages(chat.id).await?;
        let prompt = self.prompt(&history);
        let title = created.then(|| self.spawn_title(chat.id, text.clone()));
        let assistant_message_id = MessageId::new();
        let job = Job {
            service: self.clone(),
            chat: chat.clone(),
            stream: stream_id,
            message_id: assistant_message_id,
            request: ModelRequest { model, messages: prompt },
            cancelled,
            title,
        };
        // From here the job gives the slot back when it ends.
        claim.started = true;
        tokio::spawn(job.run());
        Ok(Started { chat, stream_id, user_message, assistant_message_id })
    }

    /// Checks a new message's parts and returns its text. Every part counts towards the size
    /// limit (a reasoning or data part is no way around it), and a file part may only point
    /// at something a client can safely load.
    fn check_parts(&self, parts: &[MessagePart]) -> Result<String> {
        if parts.is_empty() {
            return Err(Error::bad_request(Surface::Chat, "The message has no parts."));
        }
        let limit = self.settings.max_message_chars;
        let chars: usize = parts.iter().map(incoming::counted_chars).sum();
        if chars > limit {
            return Err(Error::bad_request(
                Surface::Chat,
                format!("The message is {chars} characters long; the limit is {limit} characters."),
            ));
        }
        for part in parts.iter().filter(|p| p.kind() == PartKind::File) {
            incoming::check_file_part(part)?;
        }
        let text = text_of(parts);
        if text.trim().is_empty() && !parts.iter().any(|p| p.kind() == PartKind::File) {
            return Err(Error::bad_request(Surface::Chat, "The message has no text."));
        }
        Ok(text)
    }

    /// Counts this generation against the user's daily quota, atomically and where deleting
    /// chats or messages cannot give it back; refuses with 429 when it is used up.
    async fn take_quota(&self, who: &Principal, generation: StreamId) -> Result<()> {
        let limit = match who.user.kind {
            UserKind::Guest => self.settings.guest_messages_per_day,
            UserKind::Regular => self.settings.regular_messages_per_day,
        };
        let at = now();
        let window = chrono::Duration::hours(24);
        let start =
            GenerationStart { id: generation, user: who.user_id(), at, since: at - window, limit: limit.into() };
        let quota = self.chats.take_generation_quota(&start).await.map_err(|e| match e {
            Error::NotFound { .. } => Error::unauthorized(Surface::Auth, "The account no longer exists."),
            other => other,
        })?;
        if quota.allowed {
            return Ok(());
        }
        let resets_at = quota.oldest.unwrap_or(at) + window;
        let retry_after_secs = (resets_at - now()).num_seconds().max(1) as u64;
        Err(Error::RateLimited {
            surface: Surface::Chat,
            message: format!(
                "You have sent {limit} messages in the last 24 hours, the most a {} account may; \
                 you can send again at {} (in {} minutes).",
                who.user.kind.as_str(),
                crate::time::to_sortable_text(&resets_at),
                retry_after_secs.div_ceil(60)
            )
            .into(),
            retry_after_secs,
        })
    }

    fn prompt(&self, history: &[StoredMessage]) -> Vec<PromptMessage> {
        let mut prompt = vec![PromptMessage { role: Role::System, content: self.settings.system_prompt.clone() }];
        // The newest messages, up to a budget, so a long chat cannot build an unbounded prompt.
        let mut budget = 4 * self.settings.max_message_chars;
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

    /// Names a new chat in the background. The title is set only while the chat still has
    /// its default title: the owner may rename it, or change anything else, meanwhile.
    fn spawn_title(&self, chat: ChatId, text: String) -> oneshot::Receiver<String> {
        let (tx, rx) = oneshot::channel();
        let service = self.clone();
        tokio::spawn(async move {
            let title = match service.generate_title(&text).await {
                Ok(title) => title,
                Err(err) => {
                    tracing::warn!(error = %err, "title generation failed; the chat keeps its default title");
                    return;
                }
            };
            match service.chats.set_title_if(chat, Chat::DEFAULT_TITLE, &title, now()).await {
                Ok(true) => {
                    let _ = tx.send(title);
                }
                Ok(false) => tracing::debug!(%chat, "the chat was renamed or deleted first; keeping that"),
                Err(err) => tracing::warn!(%chat, error = %err, "could not store the chat title"),
            }
        });
        rx
    }

    async fn generate_title(&self, text: &str) -> Result<String> {
        let request = ModelRequest {
            model: self.settings.title_model.clone(),
            messages: vec![
                PromptMessage {
                    role: Role::System,
                    content: "Write a short title (2 to 6 words) for a chat that starts with the user's message. \
                              Reply with the title only: no quotes, no punctuation at the end."
                        .into(),
                },
                PromptMessage { role: Role::User, content: text.chars().take(2000).collect() },
            ],
        };
        let mut stream = tokio::time::timeout(Duration::from_secs(30), self.model.stream(request))
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

    /// Follows a generation's stream from `after`.
    pub fn follow(&self, stream: StreamId, after: u64) -> futures::stream::BoxStream<'static, Result<(u64, Vec<u8>)>> {
        follow(self.streams.clone(), stream.to_string(), after)
    }

    /// The chat's latest generation to resume, if any: `None` when there is nothing to resume
    /// (no cursor and no generation running). With a cursor, a finished generation is still
    /// replayed from there while its stream lives.
    pub async fn resume(&self, who: &Principal, chat: ChatId, cursor: Option<u64>) -> Result<Option<StreamId>> {
        access::readable(self.chats.chat(chat).await?, who.user_id())?;
        let info = self.latest_stream(chat).await?;
        match (info, cursor) {
            (Some((id, info)), Some(cursor)) => {
                if cursor > info.len {
                    return Err(Error::bad_request(
                        Surface::Stream,
                        format!("The cursor {cursor} is past the end of the stream ({} chunks).", info.len),
                    ));
                }
                Ok(Some(id))
            }
            (Some((id, info)), None) if !info.done => Ok(Some(id)),
            (_, None) => Ok(None),
            (None, Some(_)) => Err(Error::NotFound {
                surface: Surface::Stream,
                message: "The stream has expired or never existed; reload the chat instead.".into(),
            }),
        }
    }

    /// Stops the chat's running generation: the upstream request is dropped, the partial answer
    /// stored, and every follower's stream ends cleanly. Returns whether one was running.
    pub async fn stop(&self, who: &Principal, chat: ChatId) -> Result<bool> {
        access::owned(self.chats.chat(chat).await?, who.user_id())?;
        if let Some(cancel) = self.active.lock().unwrap_or_else(|p| p.into_inner()).get(&chat) {
            let _ = cancel.send(true);
            return Ok(true);
        }
        // Not running here: it may run on another instance, which watches this key. (One
        // that was abandoned was ended just now, and there is nothing left to stop.)
        match self.latest_stream(chat).await? {
            Some((id, info)) if !info.done => {
                self.kv.set(&stop_key(id), b"1", Some(Duration::from_secs(3600))).await?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// The chat's latest generation stream and its state; a generation that was abandoned
    /// (its process died: unfinished, not running here, silent for
    /// [`GenerationSettings::abandoned_after`]) is ended first, keeping what it had said.
    async fn latest_stream(&self, chat: ChatId) -> Result<Option<(StreamId, StreamInfo)>> {
        let Some(latest) = self.chats.streams(chat).await?.pop() else { return Ok(None) };
        let id = latest.id.to_string();
        let Some(info) = self.streams.info(&id).await? else { return Ok(None) };
        let silent = (now() - info.updated_at).to_std().unwrap_or_default();
        let running_here = self.active.lock().unwrap_or_else(|p| p.into_inner()).contains_key(&chat);
        if info.done || running_here || silent < self.settings.abandoned_after {
            return Ok(Some((latest.id, info)));
        }
        tracing::warn!(%chat, stream = %id, silent_secs = silent.as_secs(), "ending an abandoned generation");
        self.recover_interrupted(std::slice::from_ref(&id)).await?;
        Ok(self.streams.info(&id).await?.map(|info| (latest.id, info)))
    }

    /// Ends the generations that a crash or kill cut short, given the unfinished streams a
    /// process-local streams store kept on disk: what was generated is stored as the answer,
    /// marked as interrupted, and the stream is ended for anyone who follows it. Streams of
    /// the generic resource (no chat) are left alone. Returns how many were ended.
    pub async fn recover_interrupted(&self, unfinished: &[String]) -> Result<usize> {
        let mut ended = 0;
        for id in unfinished {
            let Some(info) = self.streams.info(id).await? else { continue };
            let Ok(owner) = serde_json::from_slice::<StreamOwner>(&info.metadata) else { continue };
            let Some(chat) = owner.chat_id else { continue };
            if self.active.lock().unwrap_or_else(|p| p.into_inner()).contains_key(&chat) {
                continue; // running here after all
            }
            let replayed = recovery::replay(self.streams.as_ref(), id).await?;
            if let Some(message_id) = replayed.message_id
                && self.chats.message(message_id).await?.is_none()
            {
                let message = StoredMessage {
                    id: message_id,
                    chat_id: chat,
                    role: Role::Assistant,
                    parts: replayed.parts(),
                    attachments: vec![],
                    created_at: now(),
                };
                if let Err(err) = self.chats.insert_messages(std::slice::from_ref(&message)).await {
                    tracing::warn!(%chat, error = %err, "could not store an interrupted answer");
                }
            }
            for chunk in replayed.closing_chunks() {
                match self.streams.append(id, chunk.as_bytes(), self.settings.stream_ttl).await {
                    // Another instance ended it a moment ago.
                    Err(Error::Conflict { .. }) => break,
                    other => drop(other?),
                }
            }
            self.streams.finish(id, self.settings.finished_stream_ttl).await?;
            tracing::info!(%chat, stream = %id, "ended a generation the last run left unfinished");
            ended += 1;
        }
        Ok(ended)
    }

    /// Deletes the messages after `message` (and their votes): the edit-and-resubmit flow.
    pub async fn delete_after(&self, who: &Principal, chat: ChatId, message: MessageId) -> Result<u64> {
        access::owned(self.chats.chat(chat).await?, who.user_id())?;
        let Some(found) = self.chats.message(message).await?.filter(|m| m.chat_id == chat) else {
            return Err(Error::not_found(Surface::Message));
        };
        self.chats.delete_messages_from(chat, found.created_at + chrono::Duration::microseconds(1)).await
    }
}

/// Strips the decoration models like to add around titles.
fn clean_title(raw: &str) -> String {
    let line = raw.lines().find(|l| !l.trim().is_empty()).unwrap_or_default();
    let trimmed =
        line.trim().trim_start_matches(['#', '*', '"', '\'', ' ']).trim_end_matches(['"', '\'', '*', '.', ' ']);
    let trimmed = trimmed.strip_prefix("Title:").unwrap_or(trimmed).trim();
    trimmed.chars().take(80).collect()
}

/// One generation, run detached.
struct Job {
    service: GenerationService,
    chat: Chat,
    stream: StreamId,
    message_id: MessageId,
    request: ModelRequest,
    cancelled: watch::Receiver<bool>,
    title: Option<oneshot::Receiver<String>>,
}

/// How the model's part of a generation ended.
enum Outcome {
    Completed,
    Stopped,
    Failed(Error),
}

struct Blocks {
    message_id: MessageId,
    open: Option<(&'static str, String)>,
    count: u32,
    reasoning: String,
    text: String,
}

impl Blocks {
    /// The chunks that switch to a `kind` block (closing another), then the delta.
    fn delta(&mut self, kind: &'static str, delta: &str) -> Vec<Value> {
        let mut out = Vec::new();
        if self.open.as_ref().is_none_or(|(k, _)| *k != kind) {
            out.extend(self.close());
            self.count += 1;
            let id = format!("{}-{}", self.message_id, self.count);
            out.push(ui::block_start(kind, &id));
            self.open = Some((kind, id));
        }
        let id = &self.open.as_ref().expect("opened above").1;
        out.push(ui::block_delta(kind, id, delta));
        if kind == "text" { &mut self.text } else { &mut self.reasoning }.push_str(delta);
        out
    }

    fn close(&mut self) -> Option<Value> {
        self.open.take().map(|(kind, id)| ui::block_end(kind, &id))
    }

    fn parts(&self) -> Vec<MessagePart> {
        let mut parts = Vec::new();
        if !self.reasoning.is_empty() {
            parts.push(
                MessagePart::from_value(json!({"type": "reasoning", "text": self.reasoning, "state": "done"}))
                    .expect("a valid reasoning part"),
            );
        }
        if !self.text.is_empty() {
            parts.push(
                MessagePart::from_value(json!({"type": "text", "text": self.text, "state": "done"}))
                    .expect("a valid text part"),
            );
        }
        parts
    }
}

impl Job {
    async fn emit(&self, chunk: &Value) {
        self.emit_raw(chunk.to_string().as_bytes()).await;
    }

    async fn emit_raw(&self, bytes: &[u8]) {
        if let Err(err) =
            self.service.streams.append(&self.stream.to_string(), bytes, self.service.settings.stream_ttl).await
        {
            tracing::warn!(stream = %self.stream, error = %err, "could not append to the generation stream");
        }
    }

    async fn run(mut self) {
        let mut blocks =
            Blocks { message_id: self.message_id, open: None, count: 0, reasoning: String::new(), text: String::new() };
        self.emit(&ui::start(&self.message_id.to_string())).await;
        self.emit(&ui::start_step()).await;
        let outcome = self.generate(&mut blocks).await;
        if let Some(end) = blocks.close() {
            self.emit(&end).await;
        }
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
        if !message.parts.is_empty()
            && let Err(err) = self.service.chats.insert_messages(std::slice::from_ref(&message)).await
        {
            tracing::error!(chat = %self.chat.id, error = %err, "could not store the assistant message");
        }
        if let Some(title) = self.title.take() {
            // A new chat's title, if it arrives in reasonable time.
            if let Ok(Ok(title)) = tokio::time::timeout(Duration::from_secs(10), title).await {
                self.emit(&ui::data("chat-title", Value::String(title))).await;
            }
        }
        match outcome {
            Outcome::Failed(err) => self.emit(&ui::error(&err.public_message())).await,
            Outcome::Completed | Outcome::Stopped => {}
        }
        self.emit(&ui::finish_step()).await;
        self.emit(&ui::finish()).await;
        self.emit_raw(DONE.as_bytes()).await;
        let id = self.stream.to_string();
        if let Err(err) = self.service.streams.finish(&id, self.service.settings.finished_stream_ttl).await {
            tracing::warn!(stream = %id, error = %err, "could not finish the generation stream");
        }
        self.service.active.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.chat.id);
        if self.service.kv.is_shared() {
            let _ = self.service.kv.delete(&stop_key(self.stream)).await;
        }
    }

    async fn generate(&mut self, blocks: &mut Blocks) -> Outcome {
        // One stop watcher for the whole generation: building it per chunk would register a
        // timer per chunk.
        let stop = self.stop_requested();
        tokio::pin!(stop);
        let stream = tokio::select! {
            result = self.service.model.stream(self.request.clone()) => result,
            _ = &mut stop => return Outcome::Stopped,
        };
        let mut stream = match stream {
            Ok(stream) => stream,
            Err(err) => return Outcome::Failed(err),
        };
        loop {
            let event = tokio::select! {
                event = stream.next() => event,
                _ = &mut stop => return Outcome::Stopped,
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
                self.emit(chunk).await;
            }
        }
    }

    /// Resolves when a stop is requested here or, through the key-value store, on another
    /// instance. A store that belongs to this process alone is never polled: no other
    /// instance can set the key there.
    fn stop_requested(&self) -> impl Future<Output = Timestamp> + use<> {
        let mut local = self.cancelled.clone();
        let key = stop_key(self.stream);
        let kv = self.service.kv.clone();
        let remote = async move {
            if !kv.is_shared() {
                return std::future::pending().await;
            }
            let mut every = tokio::time::interval(Duration::from_millis(250));
            loop {
                every.tick().await;
                if matches!(kv.get(&key).await, Ok(Some(_))) {
                    return;
                }
            }
        };
        async move {
            tokio::select! {
                _ = local.wait_for(|stop| *stop) => {},
                () = remote => {},
            }
            now()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_map_to_stable_uuids() {
        let uuid = "0190e0a0-0000-7000-8000-000000000001";
        let (chat, other) = (ChatId::new(), ChatId::new());
        assert_eq!(message_id_from_client(chat, uuid).to_string(), uuid);
        assert_eq!(message_id_from_client(chat, "msg_abc123"), message_id_from_client(chat, "msg_abc123"));
        assert_ne!(message_id_from_client(chat, "msg_abc123"), message_id_from_client(chat, "msg_abc124"));
        assert_ne!(message_id_from_client(chat, "msg-1"), message_id_from_client(other, "msg-1"), "ids are per chat");
    }

    #[test]
    fn titles_lose_their_decoration() {
        assert_eq!(clean_title("\"Trip to Lisbon\"\n"), "Trip to Lisbon");
        assert_eq!(clean_title("## Title: Rust tips."), "Rust tips");
        assert_eq!(clean_title(&"word ".repeat(40)).chars().count(), 80);
    }
}
