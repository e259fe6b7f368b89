//! Whole tables in and out ([`DatabaseTransfer`]), for `alleato migrate`: read in primary-key
//! order a page at a time; written as one `INSERT … SELECT FROM UNNEST(…)` per batch (one
//! array parameter per column, however many rows), which skips rows that exist.

use alleato_core::ids::{ChatId, MessageId, StreamId, UserId};
use alleato_core::model::{StoredMessage, StreamRecord, Vote};
use alleato_core::ports::{DatabaseTransfer, GenerationRecord, Record, RowKey, SchemaVersion, Table};
use alleato_core::{Error, Result, Surface};
use async_trait::async_trait;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use sqlx::{Postgres, Row};

use crate::PostgresDatabase;
use crate::errors::db;
use crate::migrations::MIGRATIONS;

const S: Surface = Surface::Database;

/// How one table is read.
struct Shape {
    table: &'static str,
    columns: &'static str,
    key: &'static [&'static str],
    decode: fn(&PgRow) -> sqlx::Result<Record>,
}

fn shape(table: Table) -> Shape {
    match table {
        Table::Users => Shape {
            table: "User",
            columns: r#""id", "email", "type", "password", "createdAt", "sessionsValidFrom""#,
            key: &["id"],
            decode: |row| crate::users::user(row).map(Record::User),
        },
        Table::Chats => Shape {
            table: "Chat",
            columns: r#""id", "userId", "title", "visibility", "createdAt", "updatedAt""#,
            key: &["id"],
            decode: |row| crate::chats::chat(row).map(Record::Chat),
        },
        Table::Messages => Shape {
            table: "Message_v2",
            columns: r#""id", "chatId", "role", "parts", "attachments", "createdAt""#,
            key: &["id"],
            decode: |row| crate::chats::message(row).map(Record::Message),
        },
        Table::Votes => Shape {
            table: "Vote_v2",
            columns: r#""chatId", "messageId", "isUpvoted""#,
            key: &["chatId", "messageId"],
            decode: |row| {
                Ok(Record::Vote(Vote {
                    chat_id: ChatId(row.try_get(0)?),
                    message_id: MessageId(row.try_get(1)?),
                    is_upvoted: row.try_get(2)?,
                }))
            },
        },
        Table::Streams => Shape {
            table: "Stream",
            columns: r#""id", "chatId", "createdAt""#,
            key: &["id"],
            decode: |row| {
                Ok(Record::Stream(StreamRecord {
                    id: StreamId(row.try_get(0)?),
                    chat_id: ChatId(row.try_get(1)?),
                    created_at: row.try_get(2)?,
                }))
            },
        },
        Table::Documents => Shape {
            table: "Document",
            columns: r#""id", "createdAt", "title", "kind", "content", "userId""#,
            key: &["id", "createdAt"],
            decode: |row| crate::documents::document(row).map(Record::Document),
        },
        Table::Suggestions => Shape {
            table: "Suggestion",
            columns: r#""id", "documentId", "documentCreatedAt", "originalText", "suggestedText", "description",
                "isResolved", "userId", "createdAt""#,
            key: &["id"],
            decode: |row| crate::documents::suggestion(row).map(Record::Suggestion),
        },
        Table::Files => Shape {
            table: "File",
            columns: r#""id", "userId", "chatId", "name", "contentType", "size", "storageKey", "createdAt""#,
            key: &["id"],
            decode: |row| crate::files::file(row).map(Record::File),
        },
        Table::GenerationStarts => Shape {
            table: "GenerationStart",
            columns: r#""id", "userId", "createdAt""#,
            key: &["id"],
            decode: |row| {
                Ok(Record::GenerationStart(GenerationRecord {
                    id: StreamId(row.try_get(0)?),
                    user_id: UserId(row.try_get(1)?),
                    created_at: row.try_get(2)?,
                }))
            },
        },
    }
}

type PgQuery<'a> = Query<'a, Postgres, PgArguments>;

fn bind_key<'a>(query: PgQuery<'a>, key: &RowKey) -> PgQuery<'a> {
    match *key {
        RowKey::Id(id) => query.bind(id),
        RowKey::Pair(a, b) => query.bind(a).bind(b),
        RowKey::Version(id, at) => query.bind(id).bind(at),
    }
}

/// `("a", "b") > ($1, $2)`: a row value comparison, in key order.
fn key_bound(shape: &Shape, op: &str, first_param: usize) -> String {
    let columns: Vec<String> = shape.key.iter().map(|c| format!("\"{c}\"")).collect();
    let params: Vec<String> = (0..shape.key.len()).map(|i| format!("${}", first_param + i)).collect();
    format!("({}) {op} ({})", columns.join(", "), params.join(", "))
}

/// The insert of one table's rows, each column bound as one array.
const INSERT_USERS: &str = r#"INSERT INTO "User" ("id", "email", "type", "password", "createdAt", "sessionsValidFrom")
    SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[])
    ON CONFLICT DO NOTHING"#;
const INSERT_CHATS: &str = r#"INSERT INTO "Chat" ("id", "userId", "title", "visibility", "createdAt", "updatedAt")
    SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[])
    ON CONFLICT DO NOTHING"#;
/// A message's owner is its chat's, as `insert_messages` stores it.
const INSERT_MESSAGES: &str = r#"INSERT INTO "Message_v2" ("id", "chatId", "userId", "role", "parts", "attachments", "createdAt")
    SELECT m.id, m.chat, (SELECT "userId" FROM "Chat" WHERE "id" = m.chat), m.role, m.parts::jsonb,
           m.attachments::jsonb, m.at
    FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::timestamptz[])
         AS m(id, chat, role, parts, attachments, at)
    ON CONFLICT DO NOTHING"#;
const INSERT_VOTES: &str = r#"INSERT INTO "Vote_v2" ("chatId", "messageId", "isUpvoted")
    SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::boolean[])
    ON CONFLICT DO NOTHING"#;
const INSERT_STREAMS: &str = r#"INSERT INTO "Stream" ("id", "chatId", "createdAt")
    SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::timestamptz[])
    ON CONFLICT DO NOTHING"#;
const INSERT_DOCUMENTS: &str = r#"INSERT INTO "Document" ("id", "createdAt", "title", "kind", "content", "userId")
    SELECT * FROM UNNEST($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::uuid[])
    ON CONFLICT DO NOTHING"#;
const INSERT_SUGGESTIONS: &str = r#"INSERT INTO "Suggestion" ("id", "documentId", "documentCreatedAt", "originalText",
        "suggestedText", "description", "isResolved", "userId", "createdAt")
    SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::timestamptz[], $4::text[], $5::text[], $6::text[],
                         $7::boolean[], $8::uuid[], $9::timestamptz[])
    ON CONFLICT DO NOTHING"#;
const INSERT_FILES: &str = r#"INSERT INTO "File" ("id", "userId", "chatId", "name", "contentType", "size", "storageKey",
        "createdAt")
    SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::bigint[], $7::text[],
                         $8::timestamptz[])
    ON CONFLICT DO NOTHING"#;
const INSERT_GENERATION_STARTS: &str = r#"INSERT INTO "GenerationStart" ("id", "userId", "createdAt")
    SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::timestamptz[])
    ON CONFLICT DO NOTHING"#;

/// Collects one column of the rows of the expected kind.
macro_rules! column {
    ($rows:expr, $kind:ident, |$r:ident| $value:expr) => {
        $rows.iter().filter_map(|row| if let Record::$kind($r) = row { Some($value) } else { None }).collect::<Vec<_>>()
    };
}

/// One JSON column of the messages, as text for a `::jsonb` cast.
fn json_column(rows: &[Record], column: fn(&StoredMessage) -> serde_json::Result<String>) -> Result<Vec<String>> {
    let messages = rows.iter().filter_map(|row| if let Record::Message(m) = row { Some(m) } else { None });
    messages.map(|m| column(m).map_err(|e| Error::backend(S, e))).collect()
}

/// The insert of `table`'s rows: as written above (skipping taken keys), or replacing the rows
/// under taken keys (`ON CONFLICT (key) DO UPDATE` of every other column the insert names).
fn insert_sql(table: Table, replace: bool) -> String {
    let skip = match table {
        Table::Users => INSERT_USERS,
        Table::Chats => INSERT_CHATS,
        Table::Messages => INSERT_MESSAGES,
        Table::Votes => INSERT_VOTES,
        Table::Streams => INSERT_STREAMS,
        Table::Documents => INSERT_DOCUMENTS,
        Table::Suggestions => INSERT_SUGGESTIONS,
        Table::Files => INSERT_FILES,
        Table::GenerationStarts => INSERT_GENERATION_STARTS,
    };
    if !replace {
        return skip.to_owned();
    }
    let shape = shape(table);
    let set: Vec<String> = shape
        .columns
        .split(',')
        .map(|c| c.trim().trim_matches('"'))
        .filter(|c| !shape.key.contains(c))
        .map(|c| format!("\"{c}\" = EXCLUDED.\"{c}\""))
        .collect();
    let key: Vec<String> = shape.key.iter().map(|c| format!("\"{c}\"")).collect();
    skip.replace(
        "ON CONFLICT DO NOTHING",
        &format!("ON CONFLICT ({}) DO UPDATE SET {}", key.join(", "), set.join(", ")),
    )
}

fn insert(table: Table, rows: &[Record], replace: bool) -> Result<PgQuery<'static>> {
    // Only this module's constant names go into the text; values are bound.
    let query = || sqlx::query(sqlx::AssertSqlSafe(insert_sql(table, replace)));
    Ok(match table {
        Table::Users => query()
            .bind(column!(rows, User, |u| u.id.0))
            .bind(column!(rows, User, |u| u.email.clone()))
            .bind(column!(rows, User, |u| u.kind.as_str()))
            .bind(column!(rows, User, |u| u.password_hash.clone()))
            .bind(column!(rows, User, |u| u.created_at))
            .bind(column!(rows, User, |u| u.sessions_valid_from)),
        Table::Chats => query()
            .bind(column!(rows, Chat, |c| c.id.0))
            .bind(column!(rows, Chat, |c| c.user_id.0))
            .bind(column!(rows, Chat, |c| c.title.clone()))
            .bind(column!(rows, Chat, |c| c.visibility.as_str()))
            .bind(column!(rows, Chat, |c| c.created_at))
            .bind(column!(rows, Chat, |c| c.updated_at)),
        Table::Messages => query()
            .bind(column!(rows, Message, |m| m.id.0))
            .bind(column!(rows, Message, |m| m.chat_id.0))
            .bind(column!(rows, Message, |m| m.role.as_str()))
            .bind(json_column(rows, |m| serde_json::to_string(&m.parts))?)
            .bind(json_column(rows, |m| serde_json::to_string(&m.attachments))?)
            .bind(column!(rows, Message, |m| m.created_at)),
        Table::Votes => query()
            .bind(column!(rows, Vote, |v| v.chat_id.0))
            .bind(column!(rows, Vote, |v| v.message_id.0))
            .bind(column!(rows, Vote, |v| v.is_upvoted)),
        Table::Streams => query()
            .bind(column!(rows, Stream, |s| s.id.0))
            .bind(column!(rows, Stream, |s| s.chat_id.0))
            .bind(column!(rows, Stream, |s| s.created_at)),
        Table::Documents => query()
            .bind(column!(rows, Document, |d| d.id.0))
            .bind(column!(rows, Document, |d| d.created_at))
            .bind(column!(rows, Document, |d| d.title.clone()))
            .bind(column!(rows, Document, |d| d.kind.as_str()))
            .bind(column!(rows, Document, |d| d.content.clone()))
            .bind(column!(rows, Document, |d| d.user_id.0)),
        Table::Suggestions => query()
            .bind(column!(rows, Suggestion, |s| s.id.0))
            .bind(column!(rows, Suggestion, |s| s.document_id.0))
            .bind(column!(rows, Suggestion, |s| s.document_created_at))
            .bind(column!(rows, Suggestion, |s| s.original_text.clone()))
            .bind(column!(rows, Suggestion, |s| s.suggested_text.clone()))
            .bind(column!(rows, Suggestion, |s| s.description.clone()))
            .bind(column!(rows, Suggestion, |s| s.is_resolved))
            .bind(column!(rows, Suggestion, |s| s.user_id.0))
            .bind(column!(rows, Suggestion, |s| s.created_at)),
        Table::Files => query()
            .bind(column!(rows, File, |f| f.id.0))
            .bind(column!(rows, File, |f| f.user_id.0))
            .bind(column!(rows, File, |f| f.chat_id.map(|c| c.0)))
            .bind(column!(rows, File, |f| f.name.clone()))
            .bind(column!(rows, File, |f| f.content_type.clone()))
            .bind(column!(rows, File, |f| i64::try_from(f.size).unwrap_or(i64::MAX)))
            .bind(column!(rows, File, |f| f.storage_key.clone()))
            .bind(column!(rows, File, |f| f.created_at)),
        Table::GenerationStarts => query()
            .bind(column!(rows, GenerationStart, |g| g.id.0))
            .bind(column!(rows, GenerationStart, |g| g.user_id.0))
            .bind(column!(rows, GenerationStart, |g| g.created_at)),
    })
}

impl PostgresDatabase {
    /// One batch of one table's rows in one statement: skipping taken keys, or replacing.
    async fn write_rows(&self, table: Table, rows: &[Record], replace: bool) -> Result<u64> {
        if let Some(other) = rows.iter().find(|r| r.table() != table) {
            return Err(Error::bad_request(S, format!("a {} row in an import of {table}", other.table())));
        }
        if rows.is_empty() {
            return Ok(0);
        }
        let done = insert(table, rows, replace)?.execute(&self.pool).await.map_err(db(S))?;
        Ok(done.rows_affected())
    }
}

#[async_trait]
impl DatabaseTransfer for PostgresDatabase {
    async fn export_rows(
        &self,
        table: Table,
        after: Option<&RowKey>,
        through: Option<&RowKey>,
        limit: usize,
    ) -> Result<Vec<Record>> {
        let shape = shape(table);
        let mut conditions = Vec::new();
        let mut next = 1;
        // A first page starts at the smallest UUID, so that it too is an index range scan
        // (every key starts with a UUID column) and not a walk the query-plan test cannot
        // tell from a whole-table read.
        if after.is_none() {
            conditions.push(format!("\"{}\" >= $1", shape.key[0]));
            next += 1;
        }
        for (bound, op) in [(after, ">"), (through, "<=")] {
            if bound.is_some() {
                conditions.push(key_bound(&shape, op, next));
                next += shape.key.len();
            }
        }
        let order: Vec<String> = shape.key.iter().map(|c| format!("\"{c}\"")).collect();
        // Only this module's constant names go into the text; values are bound.
        let sql = format!(
            "SELECT {} FROM \"{}\" WHERE {} ORDER BY {} LIMIT ${next}",
            shape.columns,
            shape.table,
            conditions.join(" AND "),
            order.join(", "),
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        if after.is_none() {
            query = query.bind(uuid::Uuid::nil());
        }
        for key in [after, through].into_iter().flatten() {
            query = bind_key(query, key);
        }
        let query = query.bind(i64::try_from(limit.clamp(1, 10_000)).unwrap_or(10_000));
        let rows = query.fetch_all(&self.pool).await.map_err(db(S))?;
        rows.iter().map(shape.decode).collect::<sqlx::Result<_>>().map_err(db(S))
    }

    async fn import_rows(&self, table: Table, rows: &[Record]) -> Result<u64> {
        self.write_rows(table, rows, false).await
    }

    async fn overwrite_rows(&self, table: Table, rows: &[Record]) -> Result<u64> {
        self.write_rows(table, rows, true).await
    }

    async fn delete_rows(&self, table: Table, keys: &[RowKey]) -> Result<u64> {
        if let Some(key) = keys.iter().find(|k| !table.holds(k)) {
            return Err(Error::bad_request(S, format!("{key} is not a key of {table}")));
        }
        if keys.is_empty() {
            return Ok(0);
        }
        let shape = shape(table);
        let columns: Vec<String> = shape.key.iter().map(|c| format!("\"{c}\"")).collect();
        let firsts = keys.iter().map(|k| match *k {
            RowKey::Id(a) | RowKey::Pair(a, _) | RowKey::Version(a, _) => a,
        });
        let firsts: Vec<uuid::Uuid> = firsts.collect();
        let pairs: Vec<uuid::Uuid> =
            keys.iter().filter_map(|k| if let RowKey::Pair(_, b) = *k { Some(b) } else { None }).collect();
        let times: Vec<alleato_core::time::Timestamp> =
            keys.iter().filter_map(|k| if let RowKey::Version(_, t) = *k { Some(t) } else { None }).collect();
        // The keys as one array per key column, like the inserts' rows.
        let arrays = match table {
            Table::Votes => "$1::uuid[], $2::uuid[]",
            Table::Documents => "$1::uuid[], $2::timestamptz[]",
            _ => "$1::uuid[]",
        };
        let sql = format!(
            "DELETE FROM \"{}\" WHERE ({}) IN (SELECT * FROM UNNEST({arrays}))",
            shape.table,
            columns.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(firsts);
        if table == Table::Votes {
            query = query.bind(pairs);
        } else if table == Table::Documents {
            query = query.bind(times);
        }
        let done = query.execute(&self.pool).await.map_err(db(S))?;
        Ok(done.rows_affected())
    }

    async fn count_rows(&self, table: Table) -> Result<u64> {
        // Named so the query-plan test can tell it apart: it reads the whole table on purpose.
        let sql = format!("SELECT COUNT(*) AS rows_in_table FROM \"{}\"", shape(table).table);
        let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(&self.pool).await.map_err(db(S))?;
        Ok(count.max(0) as u64)
    }

    async fn schema_version(&self) -> Result<SchemaVersion> {
        let applied: Option<i64> = sqlx::query_scalar(r#"SELECT MAX("version") FROM "_alleato_migrations""#)
            .fetch_one(&self.pool)
            .await
            .map_err(db(S))?;
        Ok(SchemaVersion { applied: applied.unwrap_or(0), known: MIGRATIONS.last().map_or(0, |m| m.0) })
    }

    async fn store_id(&self) -> Result<String> {
        let id: Option<String> =
            sqlx::query_scalar(r#"SELECT "id" FROM "Store""#).fetch_optional(&self.pool).await.map_err(db(S))?;
        id.ok_or_else(|| Error::backend(S, "the database has no store id"))
    }
}
