//! Chat generation: store the user's message, stream the model's answer into a resumable
//! stream in the AI SDK UI message protocol, store the answer. The generation runs detached
//! from any HTTP connection: clients only follow its stream.

mod job;
mod prompt;
mod registry;
mod title;
mod writer;

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;

use self::job::Job;
use self::registry::Running;
use super::access;
use super::auth::Principal;
use super::documents::DocumentService;
use super::follow::follow;
use super::incoming;
use super::quota::{self, DailyQuota};
use super::recovery;
use super::streams::StreamOwner;
use super::tools::{self, Toolbox};
use crate::error::{Error, Result, Surface};
use crate::ids::{ChatId, MessageId, StreamId};
use crate::model::{Chat, MessagePart, PartKind, Role, StoredMessage, StreamRecord, Visibility};
use crate::ports::{ChatStore, DocumentStore, GenerationBegin, LanguageModel, ModelRequest, StreamInfo, StreamStore};
use crate::time::now;

/// How chat generation runs: its models, the limits on messages and answers, and how long
/// generation streams are kept.
#[derive(Debug, Clone)]
pub struct GenerationSettings {
    /// The model id `chat-model` (the default) stands for; the only model offered the tools.
    pub chat_model: String,
    /// The model id `chat-model-reasoning` stands for.
    pub reasoning_model: String,
    /// The model id that titles new chats.
    pub title_model: String,
    /// Most characters of text in one user message.
    pub max_message_chars: usize,
    /// Messages a guest may send in a sliding 24 hours.
    pub guest_messages_per_day: u32,
    /// Messages a regular (registered) user may send in a sliding 24 hours.
    pub regular_messages_per_day: u32,
    /// The system prompt at the head of every answer's prompt; when the document tools are
    /// offered, what the model is told about them follows it.
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
    /// Whether the chat model is offered the document tools (the reasoning model never is).
    /// Off for a provider whose models cannot call tools.
    pub tools: bool,
    /// The model id that writes documents and suggestions for the tools.
    pub document_model: String,
    /// The most model steps of one answer: a step that calls tools is followed by another
    /// with their results, until the model answers without calling one or this many ran.
    pub max_steps: u32,
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
            tools: true,
            document_model: "gpt-4o-mini".into(),
            max_steps: 5,
        }
    }
}

/// A user message as a client sent it.
#[derive(Debug, Clone)]
pub struct IncomingMessage {
    /// The client's id; a UUID is kept, anything else is mapped to a stable UUID. An id that
    /// already exists in the chat regenerates from that message.
    pub id: Option<String>,
    /// Its parts: at most [`GenerationSettings::max_message_chars`] characters in all, with
    /// some text or a file.
    pub parts: Vec<MessagePart>,
}

/// A user message to a chat, as [`GenerationService::send`] takes it.
#[derive(Debug, Clone)]
pub struct SendMessage {
    /// The message to store and answer.
    pub message: IncomingMessage,
    /// `chat-model`, `chat-model-reasoning`, or a configured model id.
    pub model: Option<String>,
    /// For a chat created by this message.
    pub visibility: Option<Visibility>,
}

/// A generation under way.
#[derive(Debug, Clone)]
pub struct Started {
    /// The chat, as it was or as this message created it.
    pub chat: Chat,
    /// The generation's stream, to follow with [`GenerationService::follow`].
    pub stream_id: StreamId,
    /// The user's message, as stored.
    pub user_message: StoredMessage,
    /// The id the answer is stored under (the `start` chunk's `messageId`).
    pub assistant_message_id: MessageId,
}

/// Chat generation: sends a user message and answers it in the background; follows, resumes
/// and stops answers, and ends those a dead process left unfinished.
#[derive(Clone)]
pub struct GenerationService {
    chats: Arc<dyn ChatStore>,
    model: Arc<dyn LanguageModel>,
    streams: Arc<dyn StreamStore>,
    tools: Toolbox,
    quota: DailyQuota,
    settings: Arc<GenerationSettings>,
    running: Running,
}

/// Maps a client message id to ours: UUIDs as they are, other strings (the AI SDK's default
/// ids, such as `msg-1`) to a name-based UUID within the chat, so re-sending the same id finds
/// the same message, and the same string in another chat is another message.
pub fn message_id_from_client(chat: ChatId, raw: &str) -> MessageId {
    raw.parse().unwrap_or_else(|_| MessageId(uuid::Uuid::new_v5(&chat.as_uuid(), raw.as_bytes())))
}

impl GenerationService {
    /// The service over its ports; `documents` serves the document tools.
    pub fn new(
        chats: Arc<dyn ChatStore>,
        documents: Arc<dyn DocumentStore>,
        model: Arc<dyn LanguageModel>,
        streams: Arc<dyn StreamStore>,
        settings: GenerationSettings,
    ) -> Self {
        let quota = DailyQuota::new(settings.guest_messages_per_day, settings.regular_messages_per_day);
        let tools = Toolbox::new(DocumentService::new(documents), model.clone(), settings.document_model.clone());
        Self { chats, model, streams, tools, quota, settings: Arc::new(settings), running: Running::default() }
    }

    /// The settings it runs with.
    pub fn settings(&self) -> &GenerationSettings {
        &self.settings
    }

    /// The language model's short description of itself ([`LanguageModel::describe`]).
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
        let mut message_id =
            request.message.id.as_deref().map(|raw| message_id_from_client(chat_id, raw)).unwrap_or_default();
        // One read for both, and one write for everything a start stores: on a backend that
        // charges per call (D1), a send costs three calls with the answer's.
        let (existing, previous) = self.chats.chat_and_message(chat_id, message_id).await?;
        // Someone else's chat, public or not, cannot take messages: 404 either way.
        if existing.as_ref().is_some_and(|chat| chat.user_id != who.user_id()) {
            return Err(Error::not_found(Surface::Chat));
        }
        let previous = match previous {
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

        let (claim, cancelled) = self.running.claim(chat_id)?;
        let stream_id = StreamId::new();
        let at = now();
        let created = existing.is_none();
        let chat = existing.unwrap_or_else(|| Chat {
            id: chat_id,
            user_id: who.user_id(),
            title: Chat::DEFAULT_TITLE.into(),
            visibility: request.visibility.unwrap_or_default(),
            created_at: at,
            updated_at: at,
        });
        let user_message =
            StoredMessage { id: message_id, chat_id, role: Role::User, parts, attachments: vec![], created_at: at };
        let begin = GenerationBegin {
            quota: self.quota.start(who, stream_id),
            new_chat: created.then(|| chat.clone()),
            // Regenerate: the message and everything after it go (the original's edit flow).
            delete_from: previous.map(|p| p.created_at),
            message: user_message.clone(),
            stream: StreamRecord { id: stream_id, chat_id, created_at: at },
        };
        let begun = self.chats.begin_generation(&begin).await.map_err(|e| match quota::account_gone(e) {
            // Created by a concurrent request a moment ago; ids are never reused.
            Error::Conflict { .. } if created => Error::conflict(Surface::Chat, "The chat was just created; retry."),
            other => other,
        })?;
        self.quota.check(who, &begin.quota, begun.quota)?;
        let history = begun.history;

        let owner = StreamOwner::encode(who.user_id(), Some(chat.id))?;
        self.streams.create(&stream_id.to_string(), &owner, self.settings.stream_ttl).await?;

        // Tools for the chat model only, as in the original: the reasoning model answers alone.
        let offer_tools = self.settings.tools
            && model == self.settings.chat_model
            && request.model.as_deref() != Some("chat-model-reasoning");
        let tools = if offer_tools { tools::definitions() } else { vec![] };
        let prompt = prompt::prompt(&self.settings, &history, !tools.is_empty());
        let title = created.then(|| {
            let title_model = self.settings.title_model.clone();
            title::spawn(self.chats.clone(), self.model.clone(), title_model, chat.id, text.clone())
        });
        let assistant_message_id = MessageId::new();
        let job = Job {
            chats: self.chats.clone(),
            model: self.model.clone(),
            streams: self.streams.clone(),
            settings: self.settings.clone(),
            running: self.running.clone(),
            who: who.clone(),
            chat: chat.clone(),
            stream: stream_id,
            message_id: assistant_message_id,
            tools: (!tools.is_empty()).then(|| self.tools.clone()),
            request: ModelRequest { model, messages: prompt, tools },
            cancelled,
            title,
        };
        claim.started();
        let (running, switch) = (self.running.clone(), job.cancelled.clone());
        crate::rt::spawn(async move {
            // A panic in a generation is a bug, but it must not keep the chat claimed: every
            // later message would be refused until a restart. Its stream is left unfinished,
            // and a resume or a stop ends it as abandoned.
            if AssertUnwindSafe(job.run()).catch_unwind().await.is_err() {
                tracing::error!(chat = %chat_id, "a generation panicked; its chat is released");
                running.release_if_held_by(chat_id, &switch);
            }
        });
        Ok(Started { chat, stream_id, user_message, assistant_message_id })
    }

    /// Checks parts as those of a new message (not empty, within the length limit, some text
    /// or a file, file URLs a client can safely load), as [`GenerationService::send`] does.
    pub fn check_new_message(&self, parts: &[MessagePart]) -> Result<()> {
        self.check_parts(parts).map(drop)
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
        let text = prompt::text_of(parts);
        if text.trim().is_empty() && !parts.iter().any(|p| p.kind() == PartKind::File) {
            return Err(Error::bad_request(Surface::Chat, "The message has no text."));
        }
        Ok(text)
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
                // A cursor from another answer (or a client's mistake): a conflict with the
                // stream as it is now, not malformed input.
                if cursor > info.len {
                    return Err(Error::conflict(
                        Surface::Stream,
                        format!(
                            "The cursor {cursor} is past the end of the chat's current stream ({} chunks); \
                             resume without a cursor to follow it from the start.",
                            info.len
                        ),
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
    ///
    /// One running here stops at once; the request also goes through the streams port, which
    /// shows it in the stream's info and reaches a generation running on another instance.
    /// (One that was abandoned was ended just now, and there is nothing left to stop.)
    pub async fn stop(&self, who: &Principal, chat: ChatId) -> Result<bool> {
        access::owned(self.chats.chat(chat).await?, who.user_id())?;
        let here = self.running.stop(chat);
        match self.latest_stream(chat).await? {
            Some((id, info)) if !info.done => match self.streams.request_stop(&id.to_string()).await {
                Ok(()) => Ok(true),
                // Ended and expired meanwhile, or the store failed when the local stop is enough.
                Err(Error::NotFound { .. }) => Ok(here),
                Err(_) if here => Ok(true),
                Err(err) => Err(err),
            },
            _ => Ok(here),
        }
    }

    /// The chat's latest generation stream and its state; a generation that was abandoned
    /// (its process died: unfinished, not running here, silent for
    /// [`GenerationSettings::abandoned_after`]) is ended first, keeping what it had said.
    async fn latest_stream(&self, chat: ChatId) -> Result<Option<(StreamId, StreamInfo)>> {
        let Some(latest) = self.chats.streams(chat).await?.pop() else { return Ok(None) };
        let id = latest.id.to_string();
        let Some(info) = self.visible_info(&latest).await? else { return Ok(None) };
        let silent = (now() - info.updated_at).to_std().unwrap_or_default();
        let running_here = self.running.contains(chat);
        if info.done || running_here || silent < self.settings.abandoned_after {
            return Ok(Some((latest.id, info)));
        }
        tracing::warn!(%chat, stream = %id, silent_secs = silent.as_secs(), "ending an abandoned generation");
        self.recover_interrupted(std::slice::from_ref(&id)).await?;
        Ok(self.streams.info(&id).await?.map(|info| (latest.id, info)))
    }

    /// The info of a stream the database names. One that another instance created moments ago
    /// may not show in a store shared through an eventually consistent backend yet (Workers KV:
    /// the writer's first flush, then KV's propagation): it is waited for until its
    /// [`StreamCapabilities::visible_elsewhere_within`](crate::ports::StreamCapabilities) after
    /// the generation began, so a reload that lands on another instance in an answer's first
    /// second follows it instead of losing it. Older streams are not waited for.
    async fn visible_info(&self, record: &StreamRecord) -> Result<Option<StreamInfo>> {
        /// Between two looks; the Workers KV streams read KV at most once per poll interval.
        const LOOK_EVERY: Duration = Duration::from_millis(200);
        let id = record.id.to_string();
        let within = self.streams.capabilities().visible_elsewhere_within;
        let visible_by = record.created_at + chrono::Duration::from_std(within).unwrap_or(chrono::Duration::zero());
        loop {
            if let Some(info) = self.streams.info(&id).await? {
                return Ok(Some(info));
            }
            let left = (visible_by - now()).to_std().unwrap_or_default();
            if left.is_zero() {
                return Ok(None);
            }
            crate::rt::sleep(left.min(LOOK_EVERY)).await;
        }
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
            if self.running.contains(chat) {
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
}
