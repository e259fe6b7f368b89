use alleato_core::{Error, Surface};
use rusqlite::ErrorCode;

/// Maps a rusqlite error onto the port's error kinds: constraint violations become `Conflict`
/// (unique, primary key) or `NotFound` (foreign key: the referenced row is missing), a busy or
/// unopenable file `Unavailable`, anything else `Backend`.
pub(crate) fn map_sqlite(surface: Surface, err: rusqlite::Error) -> Error {
    if let rusqlite::Error::SqliteFailure(failure, message) = &err {
        let detail = message.as_deref().unwrap_or_default();
        match failure.code {
            ErrorCode::ConstraintViolation => {
                return match failure.extended_code {
                    rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                        Error::conflict(surface, format!("already exists ({})", constraint_target(detail)))
                    }
                    rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY => Error::not_found(surface),
                    _ => Error::backend(surface, err),
                };
            }
            ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::CannotOpen
            | ErrorCode::SystemIoFailure => {
                return Error::unavailable(surface, err);
            }
            _ => {}
        }
    }
    Error::backend(surface, err)
}

/// "UNIQUE constraint failed: User.email" -> "User.email"
fn constraint_target(detail: &str) -> &str {
    detail.rsplit(": ").next().unwrap_or(detail)
}

/// Shorthand used by every query: `.map_err(db(surface))`.
pub(crate) fn db(surface: Surface) -> impl Fn(rusqlite::Error) -> Error {
    move |e| map_sqlite(surface, e)
}
