//! Use cases. Each service holds only ports (`Arc<dyn Port>`) and enforces the access rules;
//! the HTTP layer above only translates.

mod access;
mod auth;
mod chats;
mod documents;
mod files;
mod follow;
mod generation;
mod incoming;
mod password;
mod quota;
mod rate_limit;
mod recovery;
mod revocations;
mod streams;
pub mod tools;
mod ui_message;
pub mod ui_stream;
mod users;

use std::sync::Arc;

pub use auth::{AuthService, AuthSettings, IssuedSession, Principal, SESSION_KEY_PREFIX, session_time_left};
pub use chats::{ChatService, ChatUpdate, NewChat};
pub use documents::{DocumentService, NewDocument, NewSuggestion};
pub use files::{ALLOWED_CONTENT_TYPES, DownloadUrl, FileService, FileSettings, Upload, content_disposition};
pub use follow::follow;
pub use generation::{
    GenerationService, GenerationSettings, IncomingMessage, SendMessage, Started, message_id_from_client,
};
pub use rate_limit::{RateDecision, RateLimiter};
pub use revocations::Revocations;
pub use streams::{StreamPages, StreamService};
pub use users::{UserService, UserUpdate};

use crate::ports::{
    ChatStore, Counters, Database, DatabaseAdmin, DatabaseTransfer, DocumentStore, FileStore, KeyValueStore,
    LanguageModel, ObjectStorage, StreamStore, UserStore,
};

/// Every port the services need, as chosen by the composition root.
#[derive(Clone)]
pub struct Ports {
    /// User accounts.
    pub users: Arc<dyn UserStore>,
    /// Chats, messages, votes and stream records.
    pub chats: Arc<dyn ChatStore>,
    /// Versioned documents and their suggestions.
    pub documents: Arc<dyn DocumentStore>,
    /// Metadata of uploaded files.
    pub files: Arc<dyn FileStore>,
    /// Health and counts of the database as a whole (`/ready`, stats).
    pub database: Arc<dyn DatabaseAdmin>,
    /// The bytes of uploaded files.
    pub objects: Arc<dyn ObjectStorage>,
    /// Records with expiry: sessions and cache.
    pub kv: Arc<dyn KeyValueStore>,
    /// Atomic fixed-window counters: rate limits and daily counts.
    pub counters: Arc<dyn Counters>,
    /// Append-only streams with live following: generations and the generic streams resource.
    pub streams: Arc<dyn StreamStore>,
    /// The language model that answers chats, titles them and writes documents for the tools.
    pub model: Arc<dyn LanguageModel>,
}

/// The database ports of one adapter that implements all of them, as trait objects: what a
/// composition root picks at run time, whichever adapter it is.
#[derive(Clone)]
pub struct DatabasePorts {
    /// User accounts.
    pub users: Arc<dyn UserStore>,
    /// Chats, messages, votes and stream records.
    pub chats: Arc<dyn ChatStore>,
    /// Versioned documents and their suggestions.
    pub documents: Arc<dyn DocumentStore>,
    /// Metadata of uploaded files.
    pub files: Arc<dyn FileStore>,
    /// Health and counts of the database as a whole.
    pub admin: Arc<dyn DatabaseAdmin>,
    /// Whole tables in and out, for moving the data to another database (`alleato migrate`).
    pub transfer: Arc<dyn DatabaseTransfer>,
}

impl DatabasePorts {
    /// Every port of `database`, one adapter that implements them all, each as the same
    /// shared instance.
    pub fn new<D>(database: Arc<D>) -> Self
    where
        D: Database,
    {
        Self {
            users: database.clone(),
            chats: database.clone(),
            documents: database.clone(),
            files: database.clone(),
            admin: database.clone(),
            transfer: database,
        }
    }
}

impl Ports {
    /// All the ports, from the database's and the other adapters.
    pub fn from_database(
        database: DatabasePorts,
        objects: Arc<dyn ObjectStorage>,
        kv: Arc<dyn KeyValueStore>,
        counters: Arc<dyn Counters>,
        streams: Arc<dyn StreamStore>,
        model: Arc<dyn LanguageModel>,
    ) -> Self {
        Self {
            users: database.users,
            chats: database.chats,
            documents: database.documents,
            files: database.files,
            database: database.admin,
            objects,
            kv,
            counters,
            streams,
            model,
        }
    }
}

/// All services, wired over one set of ports.
#[derive(Clone)]
pub struct Services {
    /// The ports the services run over, for what needs a port itself (readiness pings, stats).
    pub ports: Ports,
    /// Registration, login, guest accounts, logout and bearer tokens.
    pub auth: AuthService,
    /// One's own account: email, password, deletion.
    pub users: UserService,
    /// Chats and votes.
    pub chats: ChatService,
    /// Versioned documents and their suggestions.
    pub documents: DocumentService,
    /// Uploaded files.
    pub files: FileService,
    /// Fixed-window rate limiting, shared by every instance on the same counters.
    pub rate_limiter: RateLimiter,
    /// Chat generation: sending a message, following, resuming and stopping its answer.
    pub generation: GenerationService,
    /// The generic streams resource.
    pub streams: StreamService,
}

impl Services {
    /// Every service over `ports`, with the settings of those that take some.
    pub fn new(ports: Ports, auth: AuthSettings, files: FileSettings, generation: GenerationSettings) -> Self {
        let auth = AuthService::new(ports.users.clone(), ports.kv.clone(), auth);
        let chats = ChatService::new(ports.chats.clone());
        let files = FileService::new(ports.files.clone(), ports.chats.clone(), ports.objects.clone(), files);
        Self {
            users: UserService::new(ports.users.clone(), ports.files.clone(), ports.objects.clone(), auth.clone()),
            documents: DocumentService::new(ports.documents.clone()),
            rate_limiter: RateLimiter::new(ports.counters.clone()),
            generation: GenerationService::new(
                ports.chats.clone(),
                ports.documents.clone(),
                ports.model.clone(),
                ports.streams.clone(),
                generation,
            ),
            streams: StreamService::new(ports.streams.clone(), ports.counters.clone()),
            auth,
            chats,
            files,
            ports,
        }
    }
}
