//! The migration policy both SQL adapters follow: numbered, append-only files, applied in
//! order, each recorded once applied; a database that is newer than the binary (a rollback to
//! an older release) refuses to start rather than run against a schema it does not know.
//! The adapters do the I/O; this says what to apply.

use crate::error::{Error, Result, Surface};

/// `(version, name, sql)`.
pub type Migration = (i64, &'static str, &'static str);

/// What opening a database does about the migrations it lacks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MigrationPolicy {
    /// Apply them: what the server does at start.
    #[default]
    Apply,
    /// Create the whole schema in an empty database, but refuse one whose schema is older than
    /// the binary's: what a copy does to its target, which it must not upgrade behind an
    /// operator's back.
    CreateOnly,
    /// Refuse a database whose schema is not the binary's: nothing is changed.
    Refuse,
}

/// The migrations to apply under `policy` to a database at version `applied` (0 for an empty
/// one); an error, naming both versions, where the policy refuses.
pub fn pending_under(
    known: &'static [Migration],
    applied: i64,
    policy: MigrationPolicy,
) -> Result<&'static [Migration]> {
    let pending = pending(known, applied)?;
    let refused = match policy {
        MigrationPolicy::Apply => false,
        MigrationPolicy::CreateOnly => applied > 0 && !pending.is_empty(),
        MigrationPolicy::Refuse => !pending.is_empty(),
    };
    if refused {
        let newest = known.last().map_or(0, |(version, _, _)| *version);
        return Err(Error::backend(
            Surface::Database,
            format!(
                "the database is at migration {applied}, older than this binary's {newest}; start alleato on it once \
                 (it applies migrations at start) and try again"
            ),
        ));
    }
    Ok(pending)
}

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
    fn policies_apply_create_or_refuse() {
        use MigrationPolicy::*;
        assert_eq!(pending_under(KNOWN, 1, Apply).unwrap().len(), 2);
        assert_eq!(pending_under(KNOWN, 0, CreateOnly).unwrap().len(), 3, "an empty database gets the schema");
        let err = pending_under(KNOWN, 1, CreateOnly).unwrap_err();
        let older = std::error::Error::source(&err).map(ToString::to_string).unwrap_or_default();
        assert!(older.contains("at migration 1") && older.contains("binary's 3"), "{older}");
        assert!(pending_under(KNOWN, 0, Refuse).is_err());
        assert!(pending_under(KNOWN, 3, Refuse).unwrap().is_empty(), "a current schema opens under every policy");
        assert!(pending_under(KNOWN, 4, Apply).is_err());
    }

    #[test]
    fn a_database_newer_than_the_binary_refuses() {
        let err = pending(KNOWN, 4).unwrap_err();
        assert!(err.to_string().contains("backend"), "{err}");
        assert_eq!(err.code(), "internal:database");
    }
}
