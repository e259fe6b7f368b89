//! The migration policy both SQL adapters follow: numbered, append-only files, applied in
//! order, each recorded once applied; a database that is newer than the binary (a rollback to
//! an older release) refuses to start rather than run against a schema it does not know.
//! The adapters do the I/O; this says what to apply.

use crate::error::{Error, Result, Surface};

/// `(version, name, sql)`.
pub type Migration = (i64, &'static str, &'static str);

/// The migrations still to apply to a database whose newest recorded version is `applied`
/// (0 for none), in order.
pub fn pending(known: &'static [Migration], applied: i64) -> Result<&'static [Migration]> {
    debug_assert!(known.windows(2).all(|w| w[0].0 < w[1].0), "migrations are numbered in order");
    if let Some((newest, _, _)) = known.last()
        && applied > *newest
    {
        return Err(Error::backend(
            Surface::Database,
            format!("the database is at migration {applied}, newer than this binary knows ({newest}); upgrade alleato"),
        ));
    }
    let first = known.iter().position(|(version, _, _)| *version > applied).unwrap_or(known.len());
    Ok(&known[first..])
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: &[Migration] = &[(1, "0001_init", ""), (2, "0002_more", ""), (3, "0003_most", "")];

    #[test]
    fn only_what_is_newer_is_applied_in_order() {
        let names = |m: &[Migration]| m.iter().map(|(_, name, _)| *name).collect::<Vec<_>>();
        assert_eq!(names(pending(KNOWN, 0).unwrap()), ["0001_init", "0002_more", "0003_most"]);
        assert_eq!(names(pending(KNOWN, 2).unwrap()), ["0003_most"]);
        assert!(pending(KNOWN, 3).unwrap().is_empty());
    }

    #[test]
    fn a_database_newer_than_the_binary_refuses() {
        let err = pending(KNOWN, 4).unwrap_err();
        assert!(err.to_string().contains("backend"), "{err}");
        assert_eq!(err.code(), "internal:database");
    }
}
