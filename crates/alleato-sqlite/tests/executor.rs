//! The database ports need nothing from an executor but its two operations: the whole database
//! suite runs over an executor that only passes statements on (as a D1 executor would send
//! them over HTTP), and that checks each one against D1's documented limits
//! (`shared/reference/cloudflare-and-test-services.md` §1.4–1.5: at most 100 bound parameters
//! and 100,000 bytes per statement; no `BEGIN`, `COMMIT`, `SAVEPOINT` or `PRAGMA`, since every
//! request is its own transaction and a batch is the only atomic unit).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use alleato_core::Surface;
use alleato_sqlite::sql::{Executor, Outcome, SqlError, Statement};
use alleato_sqlite::{Pool, SqlDatabase};

#[derive(Clone)]
struct D1Rules {
    inner: Pool,
    statements: Arc<AtomicUsize>,
}

impl D1Rules {
    fn check(&self, statement: &Statement) {
        self.statements.fetch_add(1, Ordering::Relaxed);
        alleato_sqlite::sql::d1::check(statement).unwrap_or_else(|e| panic!("{e}: {}", statement.sql));
        let placeholders = (1..=statement.params.len()).all(|n| statement.sql.contains(&format!("?{n}")));
        assert!(placeholders, "every parameter is bound by number: {}", statement.sql);
    }
}

impl Executor for D1Rules {
    async fn query(&self, statement: Statement) -> Result<Outcome, SqlError> {
        self.check(&statement);
        self.inner.query(statement).await
    }

    async fn batch(&self, statements: Vec<Statement>) -> Result<Vec<Outcome>, SqlError> {
        statements.iter().for_each(|s| self.check(s));
        self.inner.batch(statements).await
    }
}

async fn database() -> Arc<SqlDatabase<D1Rules>> {
    let exec = D1Rules { inner: Pool::memory(Surface::Database).unwrap(), statements: Arc::default() };
    Arc::new(SqlDatabase::new(exec).await.unwrap())
}

mod database_through_a_plain_executor {
    alleato_core::database_conformance!(super::database().await);
}

mod counters_through_a_plain_executor {
    alleato_core::counters_conformance!(super::database().await);
}

#[tokio::test]
async fn every_statement_goes_through_the_executor() {
    let db = database().await;
    let migrations = db.executor().statements.load(Ordering::Relaxed);
    assert!(migrations > 10, "the migrations ran through it: {migrations}");
    use alleato_core::ports::UserStore;
    assert_eq!(db.user_by_email("nobody@example.com").await.unwrap(), None);
    assert_eq!(db.executor().statements.load(Ordering::Relaxed), migrations + 1);
}
