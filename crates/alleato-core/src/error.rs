//! One error type for the whole domain. Each variant is a *kind* the server maps to an HTTP
//! status; the [`Surface`] says which part of the product the error is about, so the wire code
//! reads `kind:surface` (e.g. `not_found:chat`), as the original app's clients expect.

use std::borrow::Cow;
use std::fmt;

/// A boxed cause, kept so logs can print the whole chain while the wire body never does.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The result of every fallible domain operation: [`Error`] unless another is named.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The part of the product an error concerns; the second half of a wire error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Surface {
    /// The HTTP API itself: a malformed request, an unknown route, an API key (`api`).
    Api,
    /// Registration, login and sessions (`auth`).
    Auth,
    /// A user account (`user`).
    User,
    /// A chat (`chat`).
    Chat,
    /// A chat message (`message`).
    Message,
    /// A vote on a message (`vote`).
    Vote,
    /// A document or one of its versions (`document`).
    Document,
    /// Suggestions on a document (`suggestions`).
    Suggestions,
    /// An uploaded file (`file`).
    File,
    /// A stream: a generation's or the generic streams resource's (`stream`).
    Stream,
    /// The database port (`database`).
    Database,
    /// The object storage port (`storage`).
    Storage,
    /// The key-value port (`kv`).
    KeyValue,
    /// The language-model provider.
    Model,
}

impl Surface {
    /// The surface's name in wire codes, e.g. `chat` in `not_found:chat`.
    pub fn as_str(self) -> &'static str {
        match self {
            Surface::Api => "api",
            Surface::Auth => "auth",
            Surface::User => "user",
            Surface::Chat => "chat",
            Surface::Message => "message",
            Surface::Vote => "vote",
            Surface::Document => "document",
            Surface::Suggestions => "suggestions",
            Surface::File => "file",
            Surface::Stream => "stream",
            Surface::Database => "database",
            Surface::Storage => "storage",
            Surface::KeyValue => "kv",
            Surface::Model => "model",
        }
    }

    /// A human noun for messages ("chat", "document").
    fn noun(self) -> &'static str {
        match self {
            Surface::Suggestions => "suggestion",
            Surface::KeyValue => "key",
            other => other.as_str(),
        }
    }
}

impl fmt::Display for Surface {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

type Message = Cow<'static, str>;

/// Every failure the domain and its adapters can report.
///
/// A kind says what the server answers (`NotFound` is a 404, `Unavailable` a 503); the
/// [`Surface`] completes the stable wire code. A backend failure keeps its cause for the logs
/// and shows a client only a generic message:
///
/// ```
/// use alleato_core::{Error, Surface};
///
/// let missing = Error::not_found(Surface::Chat);
/// assert_eq!(missing.code(), "not_found:chat");
/// assert_eq!(missing.public_message(), "chat not found");
/// assert!(!missing.is_internal());
///
/// let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "10.0.0.7:5432 refused");
/// let down = Error::unavailable(Surface::Database, io);
/// assert_eq!(down.code(), "unavailable:database");
/// assert!(down.is_internal());
/// assert!(!down.public_message().contains("10.0.0.7"), "the cause never reaches a client");
/// assert!(std::error::Error::source(&down).is_some(), "but the logs keep it");
/// ```
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input is malformed or breaks a rule; the message says which.
    #[error("{message}")]
    BadRequest {
        /// Which part of the product the error concerns.
        surface: Surface,
        /// What went wrong, safe to show a client.
        message: Message,
    },
    /// No valid credentials, or the session is gone.
    #[error("{message}")]
    Unauthorized {
        /// Which part of the product the error concerns.
        surface: Surface,
        /// What went wrong, safe to show a client.
        message: Message,
    },
    /// Authenticated, but not allowed. Private resources of others are `NotFound` instead, so
    /// their ids do not leak.
    #[error("{message}")]
    Forbidden {
        /// Which part of the product the error concerns.
        surface: Surface,
        /// What went wrong, safe to show a client.
        message: Message,
    },
    /// The thing does not exist, or the caller may not know it does.
    #[error("{message}")]
    NotFound {
        /// Which part of the product the error concerns.
        surface: Surface,
        /// What went wrong, safe to show a client.
        message: Message,
    },
    /// A uniqueness rule (an email, an id, a create-only object key) was broken.
    #[error("{message}")]
    Conflict {
        /// Which part of the product the error concerns.
        surface: Surface,
        /// What went wrong, safe to show a client.
        message: Message,
    },
    /// The body, a file or a text is over its size limit, or a stream is full.
    #[error("{message}")]
    PayloadTooLarge {
        /// Which part of the product the error concerns.
        surface: Surface,
        /// What went wrong, safe to show a client.
        message: Message,
    },
    /// An upload is not one of the accepted types, judged by its content.
    #[error("{message}")]
    UnsupportedMediaType {
        /// Which part of the product the error concerns.
        surface: Surface,
        /// What went wrong, safe to show a client.
        message: Message,
    },
    /// A rate limit or quota is used up until `retry_after_secs` passes.
    #[error("{message}")]
    RateLimited {
        /// Which part of the product the error concerns.
        surface: Surface,
        /// What went wrong, safe to show a client.
        message: Message,
        /// Seconds until the limit resets.
        retry_after_secs: u64,
    },
    /// An upstream service (the language-model provider) refused or failed the request; the
    /// message says how, without secrets.
    #[error("{message}")]
    Upstream {
        /// Which part of the product the error concerns.
        surface: Surface,
        /// What went wrong, safe to show a client.
        message: Message,
    },
    /// A backing service (database, object store, key-value store) cannot be reached now; a
    /// retry later may succeed.
    #[error("the {surface} backend is unavailable")]
    Unavailable {
        /// The backend (or the part of the product) that failed.
        surface: Surface,
        /// The cause, for logs only.
        source: BoxError,
    },
    /// A backing service failed in a way a retry will not fix (a bug, corrupt data).
    #[error("the {surface} backend failed")]
    Backend {
        /// The backend (or the part of the product) that failed.
        surface: Surface,
        /// The cause, for logs only.
        source: BoxError,
    },
}

impl Error {
    /// `BadRequest` with this message.
    pub fn bad_request(surface: Surface, message: impl Into<Message>) -> Self {
        Error::BadRequest { surface, message: message.into() }
    }

    /// `Unauthorized` with this message.
    pub fn unauthorized(surface: Surface, message: impl Into<Message>) -> Self {
        Error::Unauthorized { surface, message: message.into() }
    }

    /// `Forbidden` with this message.
    pub fn forbidden(surface: Surface, message: impl Into<Message>) -> Self {
        Error::Forbidden { surface, message: message.into() }
    }

    /// `NotFound` with the standard message for the surface ("chat not found").
    pub fn not_found(surface: Surface) -> Self {
        Error::NotFound { surface, message: format!("{} not found", surface.noun()).into() }
    }

    /// `Conflict` with this message.
    pub fn conflict(surface: Surface, message: impl Into<Message>) -> Self {
        Error::Conflict { surface, message: message.into() }
    }

    /// `Backend`: a failure a retry will not fix, with its cause.
    pub fn backend(surface: Surface, source: impl Into<BoxError>) -> Self {
        Error::Backend { surface, source: source.into() }
    }

    /// `Unavailable`: a backing service out of reach for now, with its cause.
    pub fn unavailable(surface: Surface, source: impl Into<BoxError>) -> Self {
        Error::Unavailable { surface, source: source.into() }
    }

    /// The kind half of the wire code.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::BadRequest { .. } => "bad_request",
            Error::Unauthorized { .. } => "unauthorized",
            Error::Forbidden { .. } => "forbidden",
            Error::NotFound { .. } => "not_found",
            Error::Conflict { .. } => "conflict",
            Error::PayloadTooLarge { .. } => "payload_too_large",
            Error::UnsupportedMediaType { .. } => "unsupported_media_type",
            Error::RateLimited { .. } => "rate_limit",
            Error::Upstream { .. } => "upstream",
            Error::Unavailable { .. } => "unavailable",
            Error::Backend { .. } => "internal",
        }
    }

    /// The surface half of the wire code.
    pub fn surface(&self) -> Surface {
        match self {
            Error::BadRequest { surface, .. }
            | Error::Unauthorized { surface, .. }
            | Error::Forbidden { surface, .. }
            | Error::NotFound { surface, .. }
            | Error::Conflict { surface, .. }
            | Error::PayloadTooLarge { surface, .. }
            | Error::UnsupportedMediaType { surface, .. }
            | Error::RateLimited { surface, .. }
            | Error::Upstream { surface, .. }
            | Error::Unavailable { surface, .. }
            | Error::Backend { surface, .. } => *surface,
        }
    }

    /// The stable wire code, `kind:surface`.
    pub fn code(&self) -> String {
        format!("{}:{}", self.kind(), self.surface())
    }

    /// True for failures of a backing service, whose details must never reach a client.
    pub fn is_internal(&self) -> bool {
        matches!(self, Error::Unavailable { .. } | Error::Backend { .. })
    }

    /// The message that is safe to show a client.
    pub fn public_message(&self) -> String {
        match self {
            Error::Unavailable { surface, .. } => {
                format!("The {surface} service is temporarily unavailable. Please try again shortly.")
            }
            Error::Backend { .. } => "Something went wrong. Please try again later.".to_owned(),
            other => other.to_string(),
        }
    }

    /// Replaces the surface, e.g. to report a store's `NotFound` as `not_found:chat`.
    pub fn on(mut self, new_surface: Surface) -> Self {
        match &mut self {
            Error::BadRequest { surface, .. }
            | Error::Unauthorized { surface, .. }
            | Error::Forbidden { surface, .. }
            | Error::NotFound { surface, .. }
            | Error::Conflict { surface, .. }
            | Error::PayloadTooLarge { surface, .. }
            | Error::UnsupportedMediaType { surface, .. }
            | Error::RateLimited { surface, .. }
            | Error::Upstream { surface, .. } => *surface = new_surface,
            Error::Unavailable { .. } | Error::Backend { .. } => {}
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_kind_then_surface() {
        assert_eq!(Error::not_found(Surface::Chat).code(), "not_found:chat");
        assert_eq!(Error::bad_request(Surface::Api, "x").code(), "bad_request:api");
        assert_eq!(Error::backend(Surface::Database, "boom").code(), "internal:database");
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let err = Error::backend(Surface::Database, "password=hunter2");
        assert!(!err.public_message().contains("hunter2"));
        assert!(err.is_internal());
    }
}
