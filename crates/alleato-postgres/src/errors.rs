use alleato_core::{Error, Surface};

/// Maps sqlx errors onto the port's kinds: unique violations (23505) are `Conflict`, foreign-key
/// violations (23503) `NotFound` (the referenced row is missing), a pool or connection failure
/// or a transient conflict between transactions (a deadlock, a serialization failure: the same
/// statement may succeed when tried again) `Unavailable`, anything else `Backend`.
pub fn map_sqlx(err: sqlx::Error) -> Error {
    map_on(Surface::Database, err)
}

pub(crate) fn map_on(surface: Surface, err: sqlx::Error) -> Error {
    match &err {
        sqlx::Error::Database(db) => match db.code().as_deref() {
            Some("23505") => {
                Error::conflict(surface, format!("already exists ({})", db.constraint().unwrap_or("unique")))
            }
            Some("23503") => Error::not_found(surface),
            // 57P01..57P03: the server is shutting down or starting; 53300: too many connections.
            Some(code) if code.starts_with("57P") || code == "53300" => Error::unavailable(Surface::Database, err),
            // 40P01: deadlock detected; 40001: serialization failure.
            Some("40P01" | "40001") => Error::unavailable(Surface::Database, err),
            _ => Error::backend(surface, err),
        },
        // Unavailability is the database's, whatever the row was about.
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Tls(_) => {
            Error::unavailable(Surface::Database, err)
        }
        _ => Error::backend(surface, err),
    }
}

/// Shorthand: `.map_err(db(surface))`.
pub(crate) fn db(surface: Surface) -> impl Fn(sqlx::Error) -> Error {
    move |e| map_on(surface, e)
}
