//! A Rust client for Alleato's `/api/v1` HTTP API.
//!
//! ```no_run
//! # async fn demo() -> Result<(), alleato_sdk::SdkError> {
//! let anonymous = alleato_sdk::Client::new("http://127.0.0.1:8787");
//! let session = anonymous.register("ada@example.com", "correct horse battery").await?;
//! let ada = anonymous.with_token(&session.token);
//! let chat = ada.create_chat(&Default::default()).await?;
//! println!("{}", chat.id);
//! # Ok(()) }
//! ```
//!
//! Every method maps one route; a non-2xx answer becomes [`SdkError::Api`] with the server's
//! stable error `code`.
//!
//! An answer that called tools (the model writing a document, say) is stored with a part per
//! call; [`api::MessagePart::tool`] reads one as an [`api::ToolPart`] (the tool, the call's id,
//! its state, its input and output or error). While an answer streams, the same calls arrive
//! as `tool-input-*` and `tool-output-*` chunks ([`SseChunk::chunk_type`]).
#![deny(missing_docs)]
#![forbid(unsafe_code)]

use alleato_api::*;
use bytes::Bytes;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use alleato_api as api;

#[derive(Debug, thiserror::Error)]
/// Why a call failed.
pub enum SdkError {
    /// The server answered with an error body.
    #[error("{status} {code}: {message}")]
    Api {
        /// The HTTP status.
        status: u16,
        /// The stable error code (`kind:surface`, e.g. `rate_limit:chat`).
        code: String,
        /// The server's message, for people.
        message: String,
    },
    /// The request did not complete.
    #[error("transport: {0}")]
    Transport(#[from] reqwest::Error),
    /// The server's answer was not what the API promises.
    #[error("unexpected response ({status}): {detail}")]
    Unexpected {
        /// The HTTP status (0 when the request could not be built).
        status: u16,
        /// What was wrong with the answer.
        detail: String,
    },
}

impl SdkError {
    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            SdkError::Api { status, .. } | SdkError::Unexpected { status, .. } => Some(*status),
            SdkError::Transport(e) => e.status().map(|s| s.as_u16()),
        }
    }

    /// The API's stable error code (`not_found:chat`…), when the server gave one.
    pub fn code(&self) -> Option<&str> {
        match self {
            SdkError::Api { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// The result of every call.
pub type Result<T> = std::result::Result<T, SdkError>;

/// Query for [`Client::list_chats`].
#[derive(Debug, Clone, Default, Serialize)]
pub struct ListChats {
    #[serde(skip_serializing_if = "Option::is_none")]
    /// 1 to 100 (the server's default: 20).
    pub limit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Chats newer than this one.
    pub starting_after: Option<ChatId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Chats older than this one (the next page down).
    pub ending_before: Option<ChatId>,
}

/// A client for one server, optionally signed in.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Client {
    /// A client of the server at `base_url` (e.g. `http://127.0.0.1:8787`), signed out.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self::with_http(reqwest::Client::new(), base_url)
    }

    /// Uses a caller-configured `reqwest::Client` (timeouts, proxies, TLS).
    pub fn with_http(http: reqwest::Client, base_url: impl Into<String>) -> Self {
        Self { http, base: base_url.into().trim_end_matches('/').to_owned(), token: None }
    }

    /// The same client, signed in with `token`.
    pub fn with_token(&self, token: &str) -> Self {
        Self { token: Some(token.to_owned()), ..self.clone() }
    }

    /// The session token it sends, if signed in.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The server's base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// A request to `path` (e.g. `/api/v1/chats`) with the bearer token set: the escape hatch
    /// for anything the typed methods do not cover.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let builder = self.http.request(method, format!("{}{}", self.base, path));
        match &self.token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }

    async fn send<T: DeserializeOwned>(&self, builder: RequestBuilder) -> Result<T> {
        let response = check(builder.send().await?).await?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await?;
        serde_json::from_slice(&bytes).map_err(|e| SdkError::Unexpected { status, detail: e.to_string() })
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.send(self.request(Method::GET, path)).await
    }

    async fn json<B: Serialize, T: DeserializeOwned>(&self, method: Method, path: &str, body: &B) -> Result<T> {
        self.send(self.request(method, path).json(body)).await
    }

    // --- auth -----------------------------------------------------------------------------

    /// `POST /api/v1/auth/register`: a new account, signed in.
    pub async fn register(&self, email: &str, password: &str) -> Result<AuthResponse> {
        let body = Credentials { email: email.into(), password: password.into() };
        self.json(Method::POST, "/api/v1/auth/register", &body).await
    }

    /// `POST /api/v1/auth/login`.
    pub async fn login(&self, email: &str, password: &str) -> Result<AuthResponse> {
        let body = Credentials { email: email.into(), password: password.into() };
        self.json(Method::POST, "/api/v1/auth/login", &body).await
    }

    /// `POST /api/v1/auth/guest`: a new guest session.
    pub async fn guest(&self) -> Result<AuthResponse> {
        self.send(self.request(Method::POST, "/api/v1/auth/guest")).await
    }

    /// `POST /api/v1/auth/logout`: the token stops working, on every instance.
    pub async fn logout(&self) -> Result<Success> {
        self.send(self.request(Method::POST, "/api/v1/auth/logout")).await
    }

    /// `GET /api/v1/auth/me`: the signed-in user.
    pub async fn me(&self) -> Result<User> {
        Ok(self.get::<UserResponse>("/api/v1/auth/me").await?.user)
    }

    // --- users ----------------------------------------------------------------------------

    /// `PATCH /api/v1/users/me`: change the email or password (a guest becomes a regular user).
    pub async fn update_me(&self, update: &UpdateUserRequest) -> Result<User> {
        Ok(self.json::<_, UserResponse>(Method::PATCH, "/api/v1/users/me", update).await?.user)
    }

    /// `DELETE /api/v1/users/me`: the account and everything it owns.
    pub async fn delete_me(&self) -> Result<Success> {
        self.send(self.request(Method::DELETE, "/api/v1/users/me")).await
    }

    // --- chats ----------------------------------------------------------------------------

    /// `GET /api/v1/chats`: one page of the caller's chats, newest first.
    pub async fn list_chats(&self, query: &ListChats) -> Result<ChatList> {
        self.send(self.request(Method::GET, "/api/v1/chats").query(query)).await
    }

    /// `POST /api/v1/chats`.
    pub async fn create_chat(&self, body: &CreateChatRequest) -> Result<Chat> {
        Ok(self.json::<_, ChatResponse>(Method::POST, "/api/v1/chats", body).await?.chat)
    }

    /// `GET /api/v1/chats/{id}`: the chat and its messages.
    pub async fn get_chat(&self, id: ChatId) -> Result<ChatWithMessages> {
        self.get(&format!("/api/v1/chats/{id}")).await
    }

    /// `PATCH /api/v1/chats/{id}`: title or visibility.
    pub async fn update_chat(&self, id: ChatId, body: &UpdateChatRequest) -> Result<Chat> {
        Ok(self.json::<_, ChatResponse>(Method::PATCH, &format!("/api/v1/chats/{id}"), body).await?.chat)
    }

    /// `DELETE /api/v1/chats/{id}`, with its messages and votes.
    pub async fn delete_chat(&self, id: ChatId) -> Result<Success> {
        self.send(self.request(Method::DELETE, &format!("/api/v1/chats/{id}"))).await
    }

    /// `DELETE /api/v1/chats`: every chat of the caller; how many went.
    pub async fn delete_all_chats(&self) -> Result<u64> {
        Ok(self.send::<DeletedCount>(self.request(Method::DELETE, "/api/v1/chats")).await?.deleted_count)
    }

    /// `GET /api/v1/chats/{id}/votes`.
    pub async fn votes(&self, chat: ChatId) -> Result<Vec<Vote>> {
        Ok(self.get::<VoteList>(&format!("/api/v1/chats/{chat}/votes")).await?.votes)
    }

    /// `PUT /api/v1/chats/{id}/messages/{message}/vote`: created or replaced.
    pub async fn vote(&self, chat: ChatId, message: MessageId, kind: VoteType) -> Result<Vote> {
        let path = format!("/api/v1/chats/{chat}/messages/{message}/vote");
        Ok(self.json::<_, VoteResponse>(Method::PUT, &path, &VoteRequest { kind }).await?.vote)
    }

    // --- documents ------------------------------------------------------------------------

    /// `GET /api/v1/documents`: the latest version of each of the caller's documents.
    pub async fn documents(&self) -> Result<Vec<Document>> {
        Ok(self.get::<DocumentList>("/api/v1/documents").await?.documents)
    }

    /// `POST /api/v1/documents`: a new document, or a new version of one.
    pub async fn save_document(&self, body: &SaveDocumentRequest) -> Result<Document> {
        Ok(self.json::<_, DocumentResponse>(Method::POST, "/api/v1/documents", body).await?.document)
    }

    /// `GET /api/v1/documents/{id}`: every version, oldest first.
    pub async fn document_versions(&self, id: DocumentId) -> Result<Vec<Document>> {
        Ok(self.get::<DocumentVersions>(&format!("/api/v1/documents/{id}")).await?.versions)
    }

    /// `DELETE /api/v1/documents/{id}/versions?after=`: restores the version current at `after`
    /// by deleting every later one.
    pub async fn delete_document_versions_after(&self, id: DocumentId, after: &str) -> Result<Vec<Document>> {
        let path = format!("/api/v1/documents/{id}/versions");
        let builder = self.request(Method::DELETE, &path).query(&[("after", after)]);
        Ok(self.send::<DeletedVersions>(builder).await?.deleted)
    }

    /// `DELETE /api/v1/documents/{id}`: deletes the document, every version and its
    /// suggestions; returns the deleted versions.
    pub async fn delete_document(&self, id: DocumentId) -> Result<Vec<Document>> {
        let builder = self.request(Method::DELETE, &format!("/api/v1/documents/{id}"));
        Ok(self.send::<DeletedVersions>(builder).await?.deleted)
    }

    /// `GET /api/v1/documents/{id}/suggestions`.
    pub async fn suggestions(&self, id: DocumentId) -> Result<Vec<Suggestion>> {
        Ok(self.get::<SuggestionList>(&format!("/api/v1/documents/{id}/suggestions")).await?.suggestions)
    }

    /// `POST /api/v1/documents/{id}/suggestions`.
    pub async fn add_suggestions(&self, id: DocumentId, suggestions: Vec<SuggestionInput>) -> Result<Vec<Suggestion>> {
        let body = CreateSuggestionsRequest::Many { suggestions };
        let path = format!("/api/v1/documents/{id}/suggestions");
        Ok(self.json::<_, SuggestionList>(Method::POST, &path, &body).await?.suggestions)
    }

    /// `POST /api/v1/documents/{id}/suggestions/{suggestion}/resolve`.
    pub async fn resolve_suggestion(&self, id: DocumentId, suggestion: SuggestionId) -> Result<Suggestion> {
        let path = format!("/api/v1/documents/{id}/suggestions/{suggestion}/resolve");
        Ok(self.send::<SuggestionResponse>(self.request(Method::POST, &path)).await?.suggestion)
    }

    // --- files ----------------------------------------------------------------------------

    /// Uploads one file; `chat` attaches it to a chat of the caller.
    pub async fn upload_file(
        &self,
        name: &str,
        content_type: &str,
        bytes: impl Into<Bytes>,
        chat: Option<ChatId>,
    ) -> Result<FileView> {
        let bytes: Bytes = bytes.into();
        let part = reqwest::multipart::Part::stream(bytes)
            .file_name(name.to_owned())
            .mime_str(content_type)
            .map_err(|e| SdkError::Unexpected { status: 0, detail: format!("content type: {e}") })?;
        let mut form = reqwest::multipart::Form::new().part("file", part);
        if let Some(chat) = chat {
            form = form.text("chatId", chat.to_string());
        }
        self.send(self.request(Method::POST, "/api/v1/files/upload").multipart(form)).await
    }

    /// `GET /api/v1/files/{id}`: the file's metadata and addresses.
    pub async fn file(&self, id: FileId) -> Result<FileView> {
        Ok(self.get::<FileResponse>(&format!("/api/v1/files/{id}")).await?.file)
    }

    /// The bytes and their content type.
    pub async fn file_content(&self, id: FileId) -> Result<(String, Bytes)> {
        let response = check(self.request(Method::GET, &format!("/api/v1/files/{id}/content")).send().await?).await?;
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        Ok((content_type, response.bytes().await?))
    }

    /// `DELETE /api/v1/files/{id}`: metadata and bytes.
    pub async fn delete_file(&self, id: FileId) -> Result<Success> {
        self.send(self.request(Method::DELETE, &format!("/api/v1/files/{id}"))).await
    }

    // --- system ---------------------------------------------------------------------------

    /// `GET /health`: the adapter serving each port.
    pub async fn health(&self) -> Result<Health> {
        self.get("/health").await
    }

    /// `GET /ready`: whether every backend answers.
    pub async fn ready(&self) -> Result<Readiness> {
        self.get("/ready").await
    }

    /// `GET /admin/stats` with the admin key.
    pub async fn admin_stats(&self, api_key: &str) -> Result<Stats> {
        self.send(self.request(Method::GET, "/admin/stats").header("x-api-key", api_key)).await
    }
}

/// One server-sent event of a stream: its sequence number (`id:`) and its `data:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseChunk {
    /// The event's `id:` (its sequence number, to resume after).
    pub id: Option<u64>,
    /// The event's data: a UI message stream chunk as JSON, or `[DONE]`.
    pub data: String,
}

impl SseChunk {
    /// The end marker of a UI message stream.
    pub fn is_done(&self) -> bool {
        self.data == "[DONE]"
    }

    /// The data as JSON; `None` for `[DONE]` or anything that is not JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.data).ok()
    }

    /// The `type` of a UI message chunk (`start`, `text-delta`, ...).
    pub fn chunk_type(&self) -> Option<String> {
        self.json().and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_owned))
    }
}

/// A live stream of events, ending when the server ends it.
pub type EventStream = futures::stream::BoxStream<'static, Result<SseChunk>>;

fn events(response: Response) -> EventStream {
    use eventsource_stream::Eventsource;
    use futures::StreamExt;
    response
        .bytes_stream()
        .eventsource()
        .map(|event| match event {
            Ok(event) => Ok(SseChunk { id: event.id.parse().ok(), data: event.data }),
            Err(err) => Err(SdkError::Unexpected { status: 200, detail: format!("broken event stream: {err}") }),
        })
        .boxed()
}

impl Client {
    // --- generation -----------------------------------------------------------------------

    /// Sends a message (any of the accepted body shapes) and returns the answer's event stream.
    pub async fn send_message(&self, chat: ChatId, body: &serde_json::Value) -> Result<EventStream> {
        let request = self.request(Method::POST, &format!("/api/v1/chats/{chat}/messages")).json(body);
        Ok(events(check(request.send().await?).await?))
    }

    /// Sends one text message as the Next.js app does (`{message: UIMessage}`).
    pub async fn send_text(&self, chat: ChatId, text: &str) -> Result<EventStream> {
        let body = serde_json::json!({"message": {"role": "user", "parts": [{"type": "text", "text": text}]}});
        self.send_message(chat, &body).await
    }

    /// Resumes the chat's generation after `cursor`; `None` when there is nothing to resume.
    pub async fn resume(&self, chat: ChatId, cursor: Option<u64>) -> Result<Option<EventStream>> {
        let mut request = self.request(Method::GET, &format!("/api/v1/chats/{chat}/stream"));
        if let Some(cursor) = cursor {
            request = request.header("last-event-id", cursor.to_string());
        }
        let response = check(request.send().await?).await?;
        if response.status() == StatusCode::NO_CONTENT {
            return Ok(None);
        }
        Ok(Some(events(response)))
    }

    /// Stops the chat's generation; returns whether one was running.
    pub async fn stop(&self, chat: ChatId) -> Result<bool> {
        let path = format!("/api/v1/chats/{chat}/stop");
        Ok(self.send::<StopResponse>(self.request(Method::POST, &path)).await?.stopped)
    }

    /// Deletes the chat's messages after `message` (edit and resubmit).
    pub async fn delete_messages_after(&self, chat: ChatId, message: &str) -> Result<u64> {
        let builder =
            self.request(Method::DELETE, &format!("/api/v1/chats/{chat}/messages")).query(&[("after", message)]);
        Ok(self.send::<DeletedCount>(builder).await?.deleted_count)
    }

    // --- generic streams ------------------------------------------------------------------

    /// `POST /api/v1/streams`: a new generic stream.
    pub async fn create_stream(&self) -> Result<StreamId> {
        Ok(self.send::<StreamCreated>(self.request(Method::POST, "/api/v1/streams")).await?.stream_id)
    }

    /// `GET /api/v1/streams/{id}`: its entries so far.
    pub async fn get_stream(&self, id: StreamId) -> Result<StreamContentsView> {
        self.get(&format!("/api/v1/streams/{id}")).await
    }

    /// `POST /api/v1/streams/{id}/append`.
    pub async fn append_stream(&self, id: StreamId, value: &serde_json::Value) -> Result<Success> {
        self.json(Method::POST, &format!("/api/v1/streams/{id}/append"), value).await
    }

    /// `DELETE /api/v1/streams/{id}`.
    pub async fn delete_stream(&self, id: StreamId) -> Result<Success> {
        self.send(self.request(Method::DELETE, &format!("/api/v1/streams/{id}"))).await
    }

    /// Replays the stream after `cursor`, then follows it live.
    pub async fn follow_stream(&self, id: StreamId, cursor: Option<u64>) -> Result<EventStream> {
        let mut request =
            self.request(Method::GET, &format!("/api/v1/streams/{id}")).header("accept", "text/event-stream");
        if let Some(cursor) = cursor {
            request = request.header("last-event-id", cursor.to_string());
        }
        Ok(events(check(request.send().await?).await?))
    }
}

/// Turns a non-2xx response into [`SdkError::Api`].
async fn check(response: Response) -> Result<Response> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let bytes = response.bytes().await.unwrap_or_default();
    Err(match serde_json::from_slice::<ErrorBody>(&bytes) {
        Ok(body) => SdkError::Api { status: status.as_u16(), code: body.code, message: body.message },
        Err(_) => SdkError::Unexpected {
            status: status.as_u16(),
            detail: String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned(),
        },
    })
}

/// True for a status this API uses for "try again later".
pub fn is_retryable(status: StatusCode) -> bool {
    matches!(status, StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE)
}
