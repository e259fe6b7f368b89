//! How each backend describes itself: in the start-up table and on `/health` (`Display`:
//! `sqlite (./data/alleato.sqlite3)`, `postgres (sqlx)`), and as the `backend` label of the
//! port metrics (`label`: the first word, from a closed set).

use std::fmt;

use super::plan::{CountersBackend, DatabaseBackend, KvBackend, StorageBackend, StreamsBackend};

/// A backend of some port: how it describes itself.
pub trait Backend: fmt::Display {
    /// The `backend` label of the port metrics: the first word of the description, one of a
    /// closed set.
    fn label(&self) -> &'static str;
}

impl fmt::Display for DatabaseBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Memory => f.write_str("sqlite (in memory)"),
            Self::Sqlite(path) => write!(f, "sqlite ({})", path.display()),
            Self::Postgres => f.write_str("postgres (sqlx)"),
            Self::D1 => f.write_str("d1 (REST API)"),
            Self::D1Local(path) => write!(f, "d1 (local stand-in: {})", path.display()),
        }
    }
}

impl Backend for DatabaseBackend {
    /// The metrics label: `sqlite`, `postgres` or `d1`.
    fn label(&self) -> &'static str {
        match self {
            Self::Memory | Self::Sqlite(_) => "sqlite",
            Self::Postgres => "postgres",
            Self::D1 | Self::D1Local(_) => "d1",
        }
    }
}

impl fmt::Display for StorageBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Memory => f.write_str("memory"),
            Self::Local(dir) => write!(f, "local ({})", dir.display()),
            Self::S3 => f.write_str("s3 (object_store)"),
            Self::R2 => f.write_str("r2 (S3 API, object_store)"),
            Self::R2Local(dir) => write!(f, "r2 (local stand-in: {})", dir.display()),
        }
    }
}

impl Backend for StorageBackend {
    /// The metrics label: `memory`, `local`, `s3` or `r2`.
    fn label(&self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Local(_) => "local",
            Self::S3 => "s3",
            Self::R2 | Self::R2Local(_) => "r2",
        }
    }
}

impl fmt::Display for KvBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Memory => f.write_str("memory"),
            Self::Embedded(path) => write!(f, "embedded ({})", path.display()),
            Self::Redis => f.write_str("redis"),
            Self::WorkersKv => f.write_str("workers-kv (REST API)"),
            Self::WorkersKvLocal(path) => write!(f, "workers-kv (local stand-in: {})", path.display()),
        }
    }
}

impl Backend for KvBackend {
    /// The metrics label: `memory`, `embedded`, `redis` or `workers-kv`.
    fn label(&self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Embedded(_) => "embedded",
            Self::Redis => "redis",
            Self::WorkersKv | Self::WorkersKvLocal(_) => "workers-kv",
        }
    }
}

impl fmt::Display for CountersBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Memory => f.write_str("memory"),
            Self::Embedded(path) => write!(f, "embedded ({})", path.display()),
            Self::Redis => f.write_str("redis"),
            Self::D1 => f.write_str("d1 (REST API)"),
            Self::D1Local(path) => write!(f, "d1 (local stand-in: {})", path.display()),
        }
    }
}

impl Backend for CountersBackend {
    /// The metrics label: `memory`, `embedded`, `redis` or `d1`.
    fn label(&self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Embedded(_) => "embedded",
            Self::Redis => "redis",
            Self::D1 | Self::D1Local(_) => "d1",
        }
    }
}

impl fmt::Display for StreamsBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Memory => f.write_str("memory (this process)"),
            Self::Embedded(path) => write!(f, "embedded ({})", path.display()),
            Self::Redis => f.write_str("redis streams"),
            Self::WorkersKv => f.write_str("workers-kv (REST API)"),
            Self::WorkersKvLocal(path) => write!(f, "workers-kv (local stand-in: {})", path.display()),
        }
    }
}

impl Backend for StreamsBackend {
    /// The metrics label: `memory`, `embedded`, `redis` or `workers-kv`.
    fn label(&self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Embedded(_) => "embedded",
            Self::Redis => "redis",
            Self::WorkersKv | Self::WorkersKvLocal(_) => "workers-kv",
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    /// The label is the first word of the description, so the table and the metrics agree.
    #[test]
    fn every_label_is_the_first_word_of_its_description() {
        let path = || PathBuf::from("/srv/alleato/x");
        let rows: Vec<(String, &str)> = vec![
            (DatabaseBackend::Memory.to_string(), DatabaseBackend::Memory.label()),
            (DatabaseBackend::Sqlite(path()).to_string(), DatabaseBackend::Sqlite(path()).label()),
            (DatabaseBackend::Postgres.to_string(), DatabaseBackend::Postgres.label()),
            (DatabaseBackend::D1.to_string(), DatabaseBackend::D1.label()),
            (DatabaseBackend::D1Local(path()).to_string(), DatabaseBackend::D1Local(path()).label()),
            (StorageBackend::Memory.to_string(), StorageBackend::Memory.label()),
            (StorageBackend::Local(path()).to_string(), StorageBackend::Local(path()).label()),
            (StorageBackend::S3.to_string(), StorageBackend::S3.label()),
            (StorageBackend::R2.to_string(), StorageBackend::R2.label()),
            (StorageBackend::R2Local(path()).to_string(), StorageBackend::R2Local(path()).label()),
            (KvBackend::Memory.to_string(), KvBackend::Memory.label()),
            (KvBackend::Embedded(path()).to_string(), KvBackend::Embedded(path()).label()),
            (KvBackend::Redis.to_string(), KvBackend::Redis.label()),
            (KvBackend::WorkersKv.to_string(), KvBackend::WorkersKv.label()),
            (KvBackend::WorkersKvLocal(path()).to_string(), KvBackend::WorkersKvLocal(path()).label()),
            (CountersBackend::Memory.to_string(), CountersBackend::Memory.label()),
            (CountersBackend::Embedded(path()).to_string(), CountersBackend::Embedded(path()).label()),
            (CountersBackend::Redis.to_string(), CountersBackend::Redis.label()),
            (CountersBackend::D1.to_string(), CountersBackend::D1.label()),
            (CountersBackend::D1Local(path()).to_string(), CountersBackend::D1Local(path()).label()),
            (StreamsBackend::Memory.to_string(), StreamsBackend::Memory.label()),
            (StreamsBackend::Embedded(path()).to_string(), StreamsBackend::Embedded(path()).label()),
            (StreamsBackend::Redis.to_string(), StreamsBackend::Redis.label()),
            (StreamsBackend::WorkersKv.to_string(), StreamsBackend::WorkersKv.label()),
            (StreamsBackend::WorkersKvLocal(path()).to_string(), StreamsBackend::WorkersKvLocal(path()).label()),
        ];
        for (description, label) in rows {
            assert_eq!(description.split([' ', '(']).next(), Some(label), "{description}");
        }
    }
}
