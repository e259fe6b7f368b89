use alleato_core::{Error, Surface};

/// Maps a rusqlite error onto the port's error kinds, the way every executor's errors are
/// ([`crate::sql::SqlError::into_port`]): for the stores that use rusqlite directly (the
/// key-value and streams files).
pub(crate) fn map_sqlite(surface: Surface, err: rusqlite::Error) -> Error {
    crate::pool::sql_error(err).into_port(surface)
}

/// Shorthand used by every query: `.map_err(db(surface))`.
pub(crate) fn db(surface: Surface) -> impl Fn(rusqlite::Error) -> Error {
    move |e| map_sqlite(surface, e)
}
