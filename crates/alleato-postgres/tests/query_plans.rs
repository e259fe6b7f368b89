//! Every query the adapter runs has an index to use: the whole conformance suite runs over
//! single-connection pools, then each statement sqlx prepared on those connections (read back
//! from `pg_prepared_statements`, exactly as sent) is planned with sequential scans disabled and
//! the generic plan forced, so parameters do not matter. A query that still scans a table has
//! no index it can use. Foreign keys are checked too: deleting a parent scans each child table
//! by its referencing column, which the plans above never show.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use alleato_postgres::{PostgresDatabase, PostgresSettings};
use sqlx::{Connection, Row};

fn url() -> String {
    std::env::var("ALLEATO_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Statements allowed to scan (matched by a fragment of their text), each with the reason.
const MAY_SCAN: &[(&str, &str)] = &[
    (
        r#"(SELECT COUNT(*) FROM "User" WHERE "type" = 'regular')"#,
        "the admin statistics count whole tables: one request by an operator, not a user's path",
    ),
    (r#"SELECT "id" FROM "Store""#, "the store's identity: a table of one row, read once per copy"),
    (
        "AS rows_in_table",
        "`alleato migrate` counts whole tables: once per table and copy, by an operator, not a user's path",
    ),
];

async fn single_connection_database(opened: &Mutex<Vec<(String, Arc<PostgresDatabase>)>>) -> Arc<PostgresDatabase> {
    let schema = format!("test_{}", uuid::Uuid::new_v4().simple());
    let mut settings = PostgresSettings::new(url());
    settings.schema = Some(schema.clone());
    settings.max_connections = 1;
    let db = Arc::new(PostgresDatabase::connect(&settings).await.expect("PostgreSQL must be running for these tests"));
    opened.lock().unwrap().push((schema, db.clone()));
    db
}

/// Statement text → the plan of its generic form, for every statement prepared on `db`'s one
/// connection.
async fn plans(db: &PostgresDatabase) -> BTreeMap<String, String> {
    let mut conn = db.pool().acquire().await.unwrap();
    let prepared = sqlx::query(
        "SELECT name, statement, cardinality(parameter_types) AS params \
         FROM pg_prepared_statements WHERE NOT from_sql",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    sqlx::raw_sql("SET plan_cache_mode = force_generic_plan; SET enable_seqscan = off")
        .execute(&mut *conn)
        .await
        .unwrap();
    let mut plans = BTreeMap::new();
    for row in prepared {
        let (name, statement, params): (String, String, i32) =
            (row.get("name"), row.get("statement"), row.get("params"));
        let verb = statement.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
        match verb.as_str() {
            "SELECT" | "UPDATE" | "DELETE" | "INSERT" | "WITH" => {}
            // Transaction control, locks and schema changes have no plan to check.
            "BEGIN" | "COMMIT" | "ROLLBACK" | "SAVEPOINT" | "RELEASE" | "SET" | "CREATE" | "ALTER" | "DROP"
            | "LOCK" => {
                continue;
            }
            other => panic!("a statement of a kind this test does not know ({other}): {statement}"),
        }
        let args = vec!["NULL"; usize::try_from(params).unwrap()].join(", ");
        let explain =
            if args.is_empty() { format!("EXPLAIN EXECUTE {name}") } else { format!("EXPLAIN EXECUTE {name}({args})") };
        // EXPLAIN of an INSERT/UPDATE/DELETE does not run it; a transaction rolled back keeps
        // this true even if that ever changed.
        let mut tx = conn.begin().await.unwrap();
        // Unprepared (the simple protocol): a prepared EXPLAIN would take a place in sqlx's
        // statement cache, and the statements it pushed out would be gone before their turn.
        let rows = sqlx::raw_sql(sqlx::AssertSqlSafe(explain)).fetch_all(&mut *tx).await.unwrap();
        let lines: Vec<String> = rows.iter().map(|row| row.get(0)).collect();
        tx.rollback().await.unwrap();
        plans.insert(statement, lines.join("\n"));
    }
    plans
}

/// Whether a plan reads some table whole: a sequential scan, or an index scan with no index
/// condition (sequential scans being off, the planner walks a whole index instead).
fn reads_whole_table(plan: &str) -> bool {
    // A node starts at the plan's first line or at a line with "->"; its details follow,
    // indented further, until the next node.
    let mut nodes: Vec<String> = Vec::new();
    for line in plan.lines() {
        if nodes.is_empty() || line.contains("->") {
            nodes.push(String::new());
        }
        let node = nodes.last_mut().expect("a node");
        node.push_str(line);
        node.push('\n');
    }
    nodes.iter().any(|node| {
        let header = node.lines().next().unwrap_or_default();
        let index_scan = ["Index Scan", "Index Only Scan", "Bitmap Index Scan"].iter().any(|s| header.contains(s));
        header.contains("Seq Scan") || (index_scan && !node.contains("Index Cond"))
    })
}

#[test]
fn whole_table_reads_are_recognised() {
    assert!(reads_whole_table("Seq Scan on \"User\"  (cost=1..2)\n  Filter: (type = 'guest'::text)"));
    assert!(reads_whole_table(
        "Limit\n  ->  Index Scan using \"Chat_pkey\" on \"Chat\"\n        Filter: (\"userId\" = $1)"
    ));
    assert!(!reads_whole_table(
        "Limit\n  ->  Index Scan using \"Chat_userId_createdAt_idx\" on \"Chat\"\n        Index Cond: (\"userId\" = $1)"
    ));
    assert!(!reads_whole_table(
        "Bitmap Heap Scan on \"File\"\n  Recheck Cond: (x = $1)\n  ->  Bitmap Index Scan on \"File_idx\"\n        Index Cond: (x = $1)"
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_query_has_an_index() {
    let opened = Mutex::new(Vec::new());
    alleato_core::database_conformance!(@sequence single_connection_database(&opened).await);

    let mut all = BTreeMap::new();
    let databases = std::mem::take(&mut *opened.lock().unwrap());
    for (_, db) in &databases {
        all.extend(plans(db).await);
    }
    assert!(all.len() >= 20, "the workload prepared only {} statements", all.len());
    let scanning: Vec<String> = all
        .iter()
        .filter(|(sql, plan)| reads_whole_table(plan) && !MAY_SCAN.iter().any(|(allowed, _)| sql.contains(allowed)))
        .map(|(sql, plan)| format!("{sql}\n{plan}"))
        .collect();
    assert!(scanning.is_empty(), "queries without a usable index:\n\n{}", scanning.join("\n\n"));

    // Clean up the schemas this test made (others are dropped by `cargo xtask test` at start).
    let mut admin = sqlx::PgConnection::connect(&url()).await.unwrap();
    for (schema, db) in databases {
        db.pool().close().await;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA \"{schema}\" CASCADE")))
            .execute(&mut admin)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn every_foreign_key_has_an_index_on_its_columns() {
    let opened = Mutex::new(Vec::new());
    let db = single_connection_database(&opened).await;
    let (schema, _) = opened.lock().unwrap()[0].clone();
    // For each foreign key, is there an index whose leading columns are the key's columns?
    let unindexed: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.conrelid::regclass::text, c.conname \
         FROM pg_constraint c \
         WHERE c.contype = 'f' AND c.connamespace = $1::regnamespace \
           AND NOT EXISTS ( \
             SELECT 1 FROM pg_index i \
             WHERE i.indrelid = c.conrelid \
               AND (i.indkey::int2[])[0:cardinality(c.conkey) - 1] @> c.conkey \
               AND (i.indkey::int2[])[0:cardinality(c.conkey) - 1] <@ c.conkey)",
    )
    .bind(&schema)
    .fetch_all(db.pool())
    .await
    .unwrap();
    db.pool().close().await;
    let mut admin = sqlx::PgConnection::connect(&url()).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA \"{schema}\" CASCADE"))).execute(&mut admin).await.unwrap();
    assert!(unindexed.is_empty(), "foreign keys whose referencing columns lead no index: {unindexed:?}");
}
