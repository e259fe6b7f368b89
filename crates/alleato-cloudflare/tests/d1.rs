//! D1 through its REST API, against Cloudflare's own D1 (workerd under Miniflare, behind the
//! Worker in `tests/cf-shim/`, which `cargo xtask test` starts on 127.0.0.1:8787;
//! `ALLEATO_TEST_CF_URL` names another). The database suite runs case after case on the one
//! simulated database (its cases count rows before and after), the counters suite in parallel
//! (its keys are its own). There is no skip: without the simulator these tests fail.

use std::sync::Arc;

use alleato_cloudflare::{CloudflareClient, CloudflareSettings, D1};
use alleato_sqlite::SqlDatabase;
use tokio::sync::OnceCell;

fn d1() -> D1 {
    let url = std::env::var("ALLEATO_TEST_CF_URL").unwrap_or_else(|_| "http://127.0.0.1:8787/client/v4".into());
    let mut settings = CloudflareSettings::new(url, "test-account", "test-token");
    // The simulator has no account-wide limit; the suite sends a few thousand requests.
    settings.requests_per_5_minutes = 1_000_000;
    D1::new(CloudflareClient::new(settings).unwrap(), "00000000-0000-0000-0000-000000000001")
}

/// The migrations, applied once per test run before any case (concurrent first runs would race
/// to create the same tables, as two servers starting at once on a fresh D1 would).
async fn database() -> Arc<SqlDatabase<D1>> {
    static MIGRATED: OnceCell<()> = OnceCell::const_new();
    MIGRATED.get_or_init(|| async { drop(SqlDatabase::new(d1()).await.expect("the simulator must be running")) }).await;
    Arc::new(SqlDatabase::new(d1()).await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_suite_passes_on_d1() {
    alleato_core::database_conformance!(@sequence database().await);
}

mod counters {
    alleato_core::counters_conformance!(super::database().await);
}

/// As the server runs them on D1: counted in memory, settled with D1 in batches.
mod pre_counted_counters {
    alleato_core::counters_conformance!(std::sync::Arc::new(alleato_memory::PreCountedCounters::new(
        super::database().await,
        std::time::Duration::from_millis(100)
    )));
}

#[tokio::test]
async fn one_port_call_is_one_request() {
    use alleato_core::ports::{ChatStore, UserStore};
    let db = database().await;
    let before = db.executor().client().requests_sent();
    assert_eq!(db.user_by_email("nobody@example.com").await.unwrap(), None);
    let chats = db.streams(alleato_core::ids::ChatId::new()).await.unwrap();
    assert!(chats.is_empty());
    assert_eq!(db.executor().client().requests_sent(), before + 2);
    assert_eq!(db.chat_with_messages(alleato_core::ids::ChatId::new()).await.unwrap(), None);
    assert_eq!(db.executor().client().requests_sent(), before + 3, "a chat and its messages: one request");
}

#[tokio::test]
async fn what_d1_refuses_costs_no_request() {
    use alleato_sqlite::sql::{Executor, Statement};
    let exec = d1();
    let err = exec.batch(vec![Statement::new("BEGIN")]).await.unwrap_err();
    assert!(err.message.contains("D1 would refuse"), "{err}");
    assert_eq!(exec.client().requests_sent(), 0);
    let err = exec.query(Statement::new("SELEC 1")).await.unwrap_err();
    assert!(err.message.contains("syntax error"), "SQLite's own message comes back: {err}");
}
