//! Errors of an executor, classified once for every executor.

use alleato_core::{Error, Surface};

/// What kind of failure a statement met, as far as the ports care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlErrorKind {
    /// A `UNIQUE` or `PRIMARY KEY` constraint: the row already exists.
    Unique,
    /// A `FOREIGN KEY` constraint: the referenced row is missing.
    ForeignKey,
    /// The database could not be reached or was busy; trying later may work.
    Unavailable,
    /// Anything else: a bug, a bad value, a broken file.
    Other,
}

impl SqlErrorKind {
    /// Classifies SQLite's error text, which both rusqlite and D1 pass on
    /// (`UNIQUE constraint failed: User.email`, D1: `… : SQLITE_CONSTRAINT`; see
    /// `shared/reference/cloudflare-and-test-services.md` §1.3). Executors that also have an
    /// error code may use it first; the text is the common ground.
    pub fn from_message(message: &str) -> Self {
        if message.contains("UNIQUE constraint failed") || message.contains("PRIMARY KEY constraint failed") {
            SqlErrorKind::Unique
        } else if message.contains("FOREIGN KEY constraint failed") {
            SqlErrorKind::ForeignKey
        } else if message.contains("database is locked") || message.contains("database is busy") {
            SqlErrorKind::Unavailable
        } else {
            SqlErrorKind::Other
        }
    }
}

/// A failed statement: its kind and the backend's message.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct SqlError {
    /// What kind of failure, which decides the domain error it becomes.
    pub kind: SqlErrorKind,
    /// The backend's own words.
    pub message: String,
}

impl SqlError {
    /// A failure of `kind`, in the backend's words.
    pub fn new(kind: SqlErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }

    /// An error classified by its text alone.
    pub fn from_message(message: impl Into<String>) -> Self {
        let message = message.into();
        Self { kind: SqlErrorKind::from_message(&message), message }
    }

    /// A column that does not hold what its decoder expects.
    pub(crate) fn decode(column: usize, what: impl std::fmt::Display) -> Self {
        Self::new(SqlErrorKind::Other, format!("column {column}: {what}"))
    }

    /// The port's error for this failure on `surface`.
    pub fn into_port(self, surface: Surface) -> Error {
        match self.kind {
            SqlErrorKind::Unique => {
                Error::conflict(surface, format!("already exists ({})", constraint_target(&self.message)))
            }
            SqlErrorKind::ForeignKey => Error::not_found(surface),
            // The database itself is down, whichever entity was asked for: the code names it
            // (`unavailable:database`), as the PostgreSQL adapter's does.
            SqlErrorKind::Unavailable => Error::unavailable(Surface::Database, self),
            SqlErrorKind::Other => Error::backend(surface, self),
        }
    }
}

/// "UNIQUE constraint failed: User.email" -> "User.email"; D1 appends ": SQLITE_CONSTRAINT".
fn constraint_target(message: &str) -> &str {
    let after = message.split_once("constraint failed: ").map_or(message, |(_, rest)| rest);
    after.split(':').next().unwrap_or(after).trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_of_sqlite_and_d1_classify_alike() {
        for (message, kind, target) in [
            ("UNIQUE constraint failed: User.email", SqlErrorKind::Unique, "User.email"),
            ("UNIQUE constraint failed: User.email: SQLITE_CONSTRAINT", SqlErrorKind::Unique, "User.email"),
            ("FOREIGN KEY constraint failed", SqlErrorKind::ForeignKey, ""),
            (
                "FOREIGN KEY constraint failed: SQLITE_CONSTRAINT (extended: SQLITE_CONSTRAINT_FOREIGNKEY)",
                SqlErrorKind::ForeignKey,
                "",
            ),
            ("no such table: x: SQLITE_ERROR", SqlErrorKind::Other, ""),
            ("database is locked", SqlErrorKind::Unavailable, ""),
        ] {
            assert_eq!(SqlErrorKind::from_message(message), kind, "{message}");
            if kind == SqlErrorKind::Unique {
                assert_eq!(constraint_target(message), target);
            }
        }
    }

    #[test]
    fn kinds_become_the_port_errors() {
        let conflict = SqlError::from_message("UNIQUE constraint failed: Chat.id").into_port(Surface::Chat);
        assert!(matches!(conflict, Error::Conflict { .. }), "{conflict:?}");
        assert!(conflict.to_string().contains("Chat.id"), "{conflict}");
        let missing = SqlError::from_message("FOREIGN KEY constraint failed").into_port(Surface::Chat);
        assert!(matches!(missing, Error::NotFound { .. }), "{missing:?}");
    }
}
