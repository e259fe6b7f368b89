//! A small connection pool for one SQLite file: one writer and a few readers.
//!
//! SQLite allows one writer at a time; in WAL mode readers never block it nor each other. So
//! writes queue on the single writer connection and reads spread over reader connections. Every
//! call runs on tokio's blocking pool, since rusqlite is synchronous.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alleato_core::{Error, Result, Surface};
use rusqlite::{Connection, OpenFlags};

use crate::errors::map_sqlite;

#[derive(Clone)]
pub struct Pool {
    inner: Arc<Inner>,
}

struct Inner {
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    surface: Surface,
}

const READERS: usize = 4;

fn configure(conn: &Connection, wal: bool) -> rusqlite::Result<()> {
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    if wal {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // With WAL, NORMAL survives a process crash; only an OS crash can lose the last commits.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
    }
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

impl Pool {
    /// Opens (creating if needed) the file at `path`, in WAL mode with foreign keys on.
    pub fn open(path: &Path, surface: Surface) -> Result<Self> {
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|e| Error::unavailable(surface, e))?;
        }
        let writer = Connection::open(path).map_err(|e| map_sqlite(surface, e))?;
        configure(&writer, true).map_err(|e| map_sqlite(surface, e))?;
        let readers = (0..READERS)
            .map(|_| {
                let conn = Connection::open_with_flags(
                    path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
                )?;
                configure(&conn, false)?;
                Ok(Mutex::new(conn))
            })
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| map_sqlite(surface, e))?;
        Ok(Self::from_parts(writer, readers, surface))
    }

    /// A private in-memory database: one connection for reads and writes, gone when dropped.
    pub fn memory(surface: Surface) -> Result<Self> {
        let conn = Connection::open_in_memory().map_err(|e| map_sqlite(surface, e))?;
        configure(&conn, false).map_err(|e| map_sqlite(surface, e))?;
        Ok(Self::from_parts(conn, Vec::new(), surface))
    }

    fn from_parts(writer: Connection, readers: Vec<Mutex<Connection>>, surface: Surface) -> Self {
        Self {
            inner: Arc::new(Inner { writer: Mutex::new(writer), readers, next_reader: AtomicUsize::new(0), surface }),
        }
    }

    pub fn surface(&self) -> Surface {
        self.inner.surface
    }

    /// Runs `f` on a reader connection (the writer for an in-memory database).
    pub async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        run_blocking(inner.surface, move || {
            if inner.readers.is_empty() {
                let conn = inner.writer.lock().unwrap_or_else(|p| p.into_inner());
                return f(&conn);
            }
            let start = inner.next_reader.fetch_add(1, Ordering::Relaxed);
            // Take the first idle reader, starting round-robin; if all are busy, wait on one.
            for i in 0..inner.readers.len() {
                if let Ok(conn) = inner.readers[(start + i) % inner.readers.len()].try_lock() {
                    return f(&conn);
                }
            }
            let conn = inner.readers[start % inner.readers.len()].lock().unwrap_or_else(|p| p.into_inner());
            f(&conn)
        })
        .await
    }

    /// Runs `f` inside one transaction on the writer: all of it commits, or none.
    pub async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Transaction<'_>) -> Result<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        run_blocking(inner.surface, move || {
            let mut conn = inner.writer.lock().unwrap_or_else(|p| p.into_inner());
            let surface = inner.surface;
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(|e| map_sqlite(surface, e))?;
            let out = f(&tx)?;
            tx.commit().map_err(|e| map_sqlite(surface, e))?;
            Ok(out)
        })
        .await
    }
}

async fn run_blocking<T, F>(surface: Surface, f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    tokio::task::spawn_blocking(f).await.map_err(|e| Error::backend(surface, e))?
}
