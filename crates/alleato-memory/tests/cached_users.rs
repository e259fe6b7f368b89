//! `CachedUsers` keeps the users contract: the users suite over the cache in front of a real
//! database (SQLite in memory), reads served from memory wherever they can be.

use std::sync::Arc;
use std::time::Duration;

use alleato_memory::CachedUsers;
use alleato_sqlite::SqliteDatabase;

async fn cached() -> Arc<CachedUsers> {
    let database = Arc::new(SqliteDatabase::memory().await.unwrap());
    Arc::new(CachedUsers::new(database, Duration::from_secs(300), 1_000))
}

mod cached_users_over_sqlite {
    alleato_core::users_conformance!(super::cached().await);
}
