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

mod executor;

pub(crate) use executor::sql_error;

#[derive(Clone)]
/// The pool of the module's documentation; cheap to clone (one `Arc`). It is the
/// [`Executor`](crate::sql::Executor) of [`SqliteDatabase`](crate::SqliteDatabase).
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

/// Creates the database file readable and writable by its owner only (0600, like the JWT
/// secret beside it), or narrows an existing one to that. SQLite gives its `-wal` and `-shm`
/// files the database file's permissions.
fn owner_only(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        if path.as_os_str().is_empty() || path.to_str().is_some_and(|p| p.starts_with("file:")) {
            return Ok(());
        }
        std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(path)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        // Left by an earlier version with wider permissions.
        for suffix in ["-wal", "-shm"] {
            let mut side = path.as_os_str().to_owned();
            side.push(suffix);
            if std::fs::exists(&side)? {
                std::fs::set_permissions(&side, std::fs::Permissions::from_mode(0o600))?;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
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
        owner_only(path).map_err(|e| Error::unavailable(surface, e))?;
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

    /// The surface its errors are reported under (the database's, or the key-value store's).
    pub fn surface(&self) -> Surface {
        self.inner.surface
    }

    /// Runs `f` on a reader connection (the writer for an in-memory database).
    ///
    /// Reads are indexed lookups that take microseconds, less than handing them to another
    /// thread costs, so when a connection is free the read runs right here on the async worker.
    /// Only when every connection is busy does it wait, on the blocking pool. Use
    /// [`Pool::read_blocking`] for reads that may scan (counts over whole tables).
    pub async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        if let Some(conn) = self.inner.try_reader() {
            return f(&conn);
        }
        self.read_blocking(f).await
    }

    /// Runs `f` on a reader connection on the blocking pool.
    pub async fn read_blocking<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        run_blocking(inner.surface, move || {
            let conn = inner.wait_reader();
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
        let pool = self.clone();
        run_blocking(self.inner.surface, move || pool.write_now(f)).await
    }

    /// [`Pool::write`] on the calling thread, for callers already on a blocking thread.
    pub fn write_now<T, F>(&self, f: F) -> Result<T>
    where
        F: FnOnce(&rusqlite::Transaction<'_>) -> Result<T>,
    {
        let mut conn = self.inner.writer.lock().unwrap_or_else(|p| p.into_inner());
        let surface = self.inner.surface;
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| map_sqlite(surface, e))?;
        let out = f(&tx)?;
        tx.commit().map_err(|e| map_sqlite(surface, e))?;
        Ok(out)
    }
}

impl Inner {
    /// A free reader, trying each once from a rotating start; the writer stands in for an
    /// in-memory database.
    fn try_reader(&self) -> Option<std::sync::MutexGuard<'_, Connection>> {
        if self.readers.is_empty() {
            return self.writer.try_lock().ok();
        }
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        (0..self.readers.len()).find_map(|i| self.readers[(start + i) % self.readers.len()].try_lock().ok())
    }

    /// A free reader if there is one, else the first, waiting for it: only on a blocking thread.
    fn wait_reader(&self) -> std::sync::MutexGuard<'_, Connection> {
        if let Some(conn) = self.try_reader() {
            return conn;
        }
        match self.readers.first() {
            Some(reader) => reader.lock(),
            None => self.writer.lock(),
        }
        .unwrap_or_else(|p| p.into_inner())
    }
}

async fn run_blocking<T, F>(surface: Surface, f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    tokio::task::spawn_blocking(f).await.map_err(|e| Error::backend(surface, e))?
}
