//! Decorators that time every port call: the same port, wrapped, so neither the services nor
//! the adapters change. Each call is recorded by port, operation, backend and the route of the
//! request that made it. Waits are forwarded untimed (`StreamStore::wait` and `wait_for_stop`
//! sit idle by design; timing them would bury the work), and so are the synchronous accessors.

use std::sync::Arc;
use std::time::{Duration, Instant};

use alleato_core::Result;
use alleato_core::ids::{ChatId, DocumentId, FileId, MessageId, SuggestionId, UserId};
use alleato_core::model::{
    Chat, ChatPage, Document, FileMeta, Stats, StoredMessage, StreamRecord, Suggestion, User, Vote,
};
use alleato_core::ports::{
    ChatStore, Counter, CounterAdd, Counters, DatabaseAdmin, DocumentStore, FileStore, GenerationBegin,
    GenerationBegun, GenerationStart, KeyValueStore, KvCapabilities, LanguageModel, ModelEvent, ModelRequest,
    ObjectEntry, ObjectStorage, QuotaUse, SessionRevocation, SignedDownload, StreamCapabilities, StreamInfo,
    StreamSlice, StreamStore, TitleUpdate, UserStore,
};
use alleato_core::services::Ports;
use alleato_core::time::Timestamp;
use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt};

/// The backend serving each port, as the adapter table's first word names it.
#[derive(Debug, Clone)]
pub struct Backends {
    pub database: &'static str,
    pub storage: &'static str,
    pub kv: &'static str,
    pub counters: &'static str,
    pub streams: &'static str,
    pub model: &'static str,
}

impl Backends {
    /// `postgres` of "postgres (sqlx, pool of 10)": the label of a row of the adapter table.
    pub fn label(description: &str) -> &'static str {
        let word = description.split([' ', '(']).next().unwrap_or("unknown");
        super::label(if word.is_empty() { "unknown" } else { word })
    }
}

/// Every port of `ports`, timed.
pub fn meter(ports: Ports, backends: &Backends) -> Ports {
    let db = backends.database;
    Ports {
        users: Arc::new(Metered::new(ports.users, "database", db)),
        chats: Arc::new(Metered::new(ports.chats, "database", db)),
        documents: Arc::new(Metered::new(ports.documents, "database", db)),
        files: Arc::new(Metered::new(ports.files, "database", db)),
        database: Arc::new(Metered::new(ports.database, "database", db)),
        objects: Arc::new(Metered::new(ports.objects, "storage", backends.storage)),
        kv: Arc::new(Metered::new(ports.kv, "kv", backends.kv)),
        counters: Arc::new(Metered::new(ports.counters, "counters", backends.counters)),
        streams: Arc::new(Metered::new(ports.streams, "streams", backends.streams)),
        model: Arc::new(Metered::new(ports.model, "model", backends.model)),
    }
}

/// A port and the labels its calls are recorded under.
pub struct Metered<P: ?Sized> {
    inner: Arc<P>,
    port: &'static str,
    backend: &'static str,
}

impl<P: ?Sized> Metered<P> {
    pub fn new(inner: Arc<P>, port: &'static str, backend: &'static str) -> Self {
        Self { inner, port, backend }
    }

    async fn time<T>(&self, operation: &'static str, call: impl Future<Output = Result<T>>) -> Result<T> {
        let started = Instant::now();
        let result = call.await;
        record(self.port, operation, self.backend, started.elapsed(), result.as_ref().err());
        result
    }
}

fn record(
    port: &'static str,
    operation: &'static str,
    backend: &'static str,
    took: Duration,
    error: Option<&alleato_core::Error>,
) {
    let route = super::current_route();
    let labels = [("port", port), ("operation", operation), ("backend", backend), ("route", route)];
    metrics::histogram!("alleato_port_call_duration_seconds", &labels).record(took.as_secs_f64());
    if let Some(error) = error {
        let labels = [("port", port), ("operation", operation), ("backend", backend), ("kind", error.kind())];
        metrics::counter!("alleato_port_errors_total", &labels).increment(1);
    }
}

/// An `impl` of a port trait for `Metered<dyn Trait>`: every async method timed under its own
/// name, every method listed (defaulted ones too, or an adapter's own version would be lost).
macro_rules! metered {
    ($trait:ident {
        $( async fn $name:ident(&self $(, $arg:ident : $ty:ty)*) -> $ret:ty; )*
    } $( { $($extra:tt)* } )?) => {
        #[deny(clippy::missing_trait_methods)]
        #[async_trait::async_trait]
        impl $trait for Metered<dyn $trait> {
            $(
                async fn $name(&self $(, $arg: $ty)*) -> $ret {
                    self.time(stringify!($name), self.inner.$name($($arg),*)).await
                }
            )*
            $( $($extra)* )?
        }
    };
}

metered!(UserStore {
    async fn insert_user(&self, user: &User) -> Result<()>;
    async fn user_by_id(&self, id: UserId) -> Result<Option<User>>;
    async fn user_by_email(&self, email: &str) -> Result<Option<User>>;
    async fn update_user(&self, user: &User) -> Result<()>;
    async fn delete_user(&self, id: UserId) -> Result<()>;
    async fn revoke_session(&self, revocation: &SessionRevocation, forget_before: Timestamp) -> Result<()>;
    async fn revoked_sessions(&self, since: Timestamp) -> Result<Vec<SessionRevocation>>;
});

metered!(ChatStore {
    async fn insert_chat(&self, chat: &Chat) -> Result<()>;
    async fn chat(&self, id: ChatId) -> Result<Option<Chat>>;
    async fn list_chats(&self, user: UserId, page: &ChatPage) -> Result<Vec<Chat>>;
    async fn update_chat(&self, chat: &Chat) -> Result<()>;
    async fn set_title_if(&self, id: ChatId, expected: &str, title: &str, at: Timestamp) -> Result<bool>;
    async fn delete_chat(&self, id: ChatId) -> Result<()>;
    async fn delete_chats_of(&self, user: UserId) -> Result<u64>;
    async fn insert_messages(&self, messages: &[StoredMessage]) -> Result<()>;
    async fn messages(&self, chat: ChatId) -> Result<Vec<StoredMessage>>;
    async fn chat_with_messages(&self, id: ChatId) -> Result<Option<(Chat, Vec<StoredMessage>)>>;
    async fn message(&self, id: MessageId) -> Result<Option<StoredMessage>>;
    async fn delete_messages_from(&self, chat: ChatId, from: Timestamp) -> Result<u64>;
    async fn take_generation_quota(&self, start: &GenerationStart) -> Result<QuotaUse>;
    async fn chat_and_message(&self, chat: ChatId, message: MessageId) -> Result<(Option<Chat>, Option<StoredMessage>)>;
    async fn begin_generation(&self, begin: &GenerationBegin) -> Result<GenerationBegun>;
    async fn finish_generation(&self, answer: Option<&StoredMessage>, title: Option<&TitleUpdate>) -> Result<bool>;
    async fn set_vote(&self, vote: &Vote) -> Result<()>;
    async fn votes(&self, chat: ChatId) -> Result<Vec<Vote>>;
    async fn insert_stream(&self, stream: &StreamRecord) -> Result<()>;
    async fn streams(&self, chat: ChatId) -> Result<Vec<StreamRecord>>;
});

metered!(DocumentStore {
    async fn insert_document(&self, document: &Document) -> Result<()>;
    async fn document_versions(&self, id: DocumentId) -> Result<Vec<Document>>;
    async fn latest_documents(&self, user: UserId) -> Result<Vec<Document>>;
    async fn delete_versions_after(&self, id: DocumentId, after: Timestamp) -> Result<Vec<Document>>;
    async fn insert_suggestions(&self, suggestions: &[Suggestion]) -> Result<()>;
    async fn suggestions(&self, document: DocumentId) -> Result<Vec<Suggestion>>;
    async fn suggestion(&self, id: SuggestionId) -> Result<Option<Suggestion>>;
    async fn resolve_suggestion(&self, id: SuggestionId) -> Result<()>;
});

metered!(FileStore {
    async fn insert_file(&self, file: &FileMeta) -> Result<()>;
    async fn file(&self, id: FileId) -> Result<Option<FileMeta>>;
    async fn delete_file(&self, id: FileId) -> Result<()>;
    async fn files_of(&self, user: UserId) -> Result<Vec<FileMeta>>;
});

metered!(DatabaseAdmin {
    async fn ping(&self) -> Result<()>;
    async fn stats(&self) -> Result<Stats>;
});

metered!(ObjectStorage {
    async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> Result<()>;
    async fn get(&self, key: &str) -> Result<Option<alleato_core::model::StoredObject>>;
    async fn delete(&self, key: &str) -> Result<()>;
    async fn signed_download_url(&self, key: &str, download: &SignedDownload) -> Result<Option<String>>;
    async fn ping(&self) -> Result<()>;
} {
    fn public_url(&self, key: &str) -> Option<String> {
        self.inner.public_url(key)
    }

    fn list(&self, prefix: &str) -> BoxStream<'static, Result<ObjectEntry>> {
        self.inner.list(prefix)
    }
});

metered!(KeyValueStore {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>>;
    async fn get_with_ttl(&self, key: &str) -> Result<Option<(Vec<u8>, Option<Duration>)>>;
    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<()>;
    async fn delete(&self, key: &str) -> Result<()>;
    async fn ping(&self) -> Result<()>;
} {
    fn keys(&self, prefix: &str) -> BoxStream<'static, Result<String>> {
        self.inner.keys(prefix)
    }

    fn capabilities(&self) -> KvCapabilities {
        self.inner.capabilities()
    }
});

metered!(Counters {
    async fn increment(&self, key: &str, window: Duration) -> Result<Counter>;
    async fn add_many(&self, adds: &[CounterAdd]) -> Result<Vec<Counter>>;
    async fn ping(&self) -> Result<()>;
});

metered!(StreamStore {
    async fn create(&self, id: &str, metadata: &[u8], ttl: Duration) -> Result<()>;
    async fn info(&self, id: &str) -> Result<Option<StreamInfo>>;
    async fn read(&self, id: &str, after: u64, max: usize) -> Result<Option<StreamSlice>>;
    async fn finish(&self, id: &str, keep: Duration) -> Result<()>;
    async fn delete(&self, id: &str) -> Result<()>;
    async fn request_stop(&self, id: &str) -> Result<()>;
    async fn ping(&self) -> Result<()>;
} {
    async fn append(&self, id: &str, entry: &[u8], ttl: Duration) -> Result<u64> {
        metrics::counter!("alleato_stream_chunks_total").increment(1);
        self.time("append", self.inner.append(id, entry, ttl)).await
    }

    async fn append_many(&self, id: &str, entries: &[Vec<u8>], ttl: Duration) -> Result<u64> {
        metrics::counter!("alleato_stream_chunks_total").increment(entries.len() as u64);
        self.time("append_many", self.inner.append_many(id, entries, ttl)).await
    }

    async fn wait(&self, id: &str, after: u64, timeout: Duration) -> Result<()> {
        self.inner.wait(id, after, timeout).await
    }

    async fn wait_for_stop(&self, id: &str) {
        self.inner.wait_for_stop(id).await
    }

    fn capabilities(&self) -> StreamCapabilities {
        self.inner.capabilities()
    }
});

/// The model: the time to open the stream, the time to its first event, and the answers
/// streaming now (a gauge that goes down when the stream is dropped, however it ends).
#[deny(clippy::missing_trait_methods)]
#[async_trait::async_trait]
impl LanguageModel for Metered<dyn LanguageModel> {
    fn describe(&self) -> String {
        self.inner.describe()
    }

    async fn stream(&self, request: ModelRequest) -> Result<BoxStream<'static, Result<ModelEvent>>> {
        let started = Instant::now();
        let model = request.model.clone();
        let events = self.time("stream", self.inner.stream(request)).await?;
        let backend = self.backend;
        let running = Running::start();
        let mut first = true;
        Ok(events
            .inspect(move |_| {
                let _ = &running;
                if std::mem::take(&mut first) {
                    let labels = [("backend", backend.to_owned()), ("model", model.clone())];
                    metrics::histogram!("alleato_model_time_to_first_token_seconds", &labels)
                        .record(started.elapsed().as_secs_f64());
                }
            })
            .boxed())
    }
}

/// One answer streaming from the model, counted while it lives.
struct Running;

impl Running {
    fn start() -> Self {
        metrics::gauge!("alleato_generations_running").increment(1.0);
        Self
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        metrics::gauge!("alleato_generations_running").decrement(1.0);
    }
}
