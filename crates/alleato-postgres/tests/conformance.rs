//! The database contract against a real PostgreSQL, each case in a schema of its own.
//!
//! `ALLEATO_TEST_POSTGRES_URL` names the server (default: the local one, trust auth). There is
//! no skip: without a server these tests fail, as CI requires.

use std::sync::Arc;

use alleato_postgres::{PostgresDatabase, PostgresSettings};

pub fn url() -> String {
    std::env::var("ALLEATO_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

async fn fresh() -> Arc<PostgresDatabase> {
    let mut settings = PostgresSettings::new(url());
    settings.schema = Some(format!("test_{}", uuid::Uuid::new_v4().simple()));
    settings.max_connections = 4;
    Arc::new(PostgresDatabase::connect(&settings).await.expect("PostgreSQL must be running for these tests"))
}

mod postgres {
    alleato_core::database_conformance!(super::fresh().await);
}

mod counters {
    alleato_core::counters_conformance!(super::fresh().await);
}

/// The two dialects' migrations are paired: same numbers, same names.
#[test]
fn migrations_are_paired_with_sqlite() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations");
    let names = |dialect: &str| {
        let mut names: Vec<String> = std::fs::read_dir(format!("{dir}/{dialect}"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    };
    assert_eq!(names("postgres"), names("sqlite"));
    let embedded: Vec<_> =
        alleato_postgres::migrations::MIGRATIONS.iter().map(|(_, name, _)| format!("{name}.sql")).collect();
    assert_eq!(embedded, names("postgres"), "every file is embedded");
}

#[tokio::test]
async fn applying_migrations_twice_is_a_no_op() {
    let mut settings = PostgresSettings::new(url());
    settings.schema = Some(format!("test_{}", uuid::Uuid::new_v4().simple()));
    PostgresDatabase::connect(&settings).await.unwrap();
    let again = PostgresDatabase::connect(&settings).await.unwrap();
    assert!(alleato_postgres::migrations::migrate(again.pool()).await.unwrap().is_empty());
}
