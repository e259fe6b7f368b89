//! Whole tables in and out ([`DatabaseTransfer`]), for `alleato migrate`: read in primary-key
//! order a page at a time, written with multi-row inserts that skip what exists.
//!
//! Inserts stay within D1's limits, which the local file keeps too: at most 100 bound
//! parameters and 100 KB of SQL per statement
//! (<https://developers.cloudflare.com/d1/platform/limits/>). One import is one batch: all or
//! none.

use alleato_core::ports::{DatabaseTransfer, GenerationRecord, Record, RowKey, SchemaVersion, Table};
use alleato_core::{Error, Result, Surface};
use async_trait::async_trait;

use crate::SqlDatabase;
use crate::migrations::MIGRATIONS;
use crate::sql::{Executor, Row, SqlError, Statement, Value, ts};

const S: Surface = Surface::Database;

/// D1's limit on bound parameters per statement.
const MAX_PARAMS: usize = 100;
/// Below D1's 100 KB per statement, with room for the SQL around the values.
const MAX_STATEMENT_BYTES: usize = 90_000;

/// How one table is read and written.
struct Shape {
    table: &'static str,
    /// Every column, in the order decoders and inserts use.
    columns: &'static [&'static str],
    /// The primary key's columns.
    key: &'static [&'static str],
    decode: fn(Row) -> Result<Record, SqlError>,
}

fn shape(table: Table) -> Shape {
    match table {
        Table::Users => Shape {
            table: "User",
            columns: &["id", "email", "type", "password", "createdAt", "sessionsValidFrom"],
            key: &["id"],
            decode: |row| crate::users::user(row).map(Record::User),
        },
        Table::Chats => Shape {
            table: "Chat",
            columns: &["id", "userId", "title", "visibility", "createdAt", "updatedAt"],
            key: &["id"],
            decode: |row| crate::chats::chat(row).map(Record::Chat),
        },
        Table::Messages => Shape {
            table: "Message_v2",
            columns: &["id", "chatId", "role", "parts", "attachments", "createdAt"],
            key: &["id"],
            decode: |row| crate::chats::message(row).map(Record::Message),
        },
        Table::Votes => Shape {
            table: "Vote_v2",
            columns: &["chatId", "messageId", "isUpvoted"],
            key: &["chatId", "messageId"],
            decode: |row| crate::chats::vote(row).map(Record::Vote),
        },
        Table::Streams => Shape {
            table: "Stream",
            columns: &["id", "chatId", "createdAt"],
            key: &["id"],
            decode: |row| crate::chats::stream(row).map(Record::Stream),
        },
        Table::Documents => Shape {
            table: "Document",
            columns: &["id", "createdAt", "title", "kind", "content", "userId"],
            key: &["id", "createdAt"],
            decode: |row| crate::documents::document(row).map(Record::Document),
        },
        Table::Suggestions => Shape {
            table: "Suggestion",
            columns: &[
                "id",
                "documentId",
                "documentCreatedAt",
                "originalText",
                "suggestedText",
                "description",
                "isResolved",
                "userId",
                "createdAt",
            ],
            key: &["id"],
            decode: |row| crate::documents::suggestion(row).map(Record::Suggestion),
        },
        Table::Files => Shape {
            table: "File",
            columns: &["id", "userId", "chatId", "name", "contentType", "size", "storageKey", "createdAt"],
            key: &["id"],
            decode: |row| crate::files::file(row).map(Record::File),
        },
        Table::GenerationStarts => Shape {
            table: "GenerationStart",
            columns: &["id", "userId", "createdAt"],
            key: &["id"],
            decode: |mut row| {
                Ok(Record::GenerationStart(GenerationRecord {
                    id: row.parsed(0)?,
                    user_id: row.parsed(1)?,
                    created_at: row.timestamp(2)?,
                }))
            },
        },
    }
}

fn quoted(columns: &[&str]) -> String {
    columns.iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(", ")
}

fn key_values(key: &RowKey) -> Vec<Value> {
    match key {
        RowKey::Id(id) => vec![id.to_string().into()],
        RowKey::Pair(a, b) => vec![a.to_string().into(), b.to_string().into()],
        RowKey::Version(id, at) => vec![id.to_string().into(), ts(at).into()],
    }
}

/// `("a", "b") > (?1, ?2)`: a row value comparison, in key order.
fn key_bound(shape: &Shape, op: &str, first_param: usize) -> String {
    let params: Vec<String> = (0..shape.key.len()).map(|i| format!("?{}", first_param + i)).collect();
    format!("({}) {op} ({})", quoted(shape.key), params.join(", "))
}

fn json(value: &impl serde::Serialize) -> Result<Value> {
    serde_json::to_string(value).map(Value::Text).map_err(|e| Error::backend(S, e))
}

/// The row's values in [`Shape::columns`] order; `None` for a record of another table.
fn values(record: &Record) -> Result<Vec<Value>> {
    Ok(match record {
        Record::User(u) => vec![
            u.id.to_string().into(),
            u.email.as_str().into(),
            u.kind.as_str().into(),
            u.password_hash.clone().into(),
            ts(&u.created_at).into(),
            u.sessions_valid_from.as_ref().map(ts).into(),
        ],
        Record::Chat(c) => vec![
            c.id.to_string().into(),
            c.user_id.to_string().into(),
            c.title.as_str().into(),
            c.visibility.as_str().into(),
            ts(&c.created_at).into(),
            ts(&c.updated_at).into(),
        ],
        Record::Message(m) => vec![
            m.id.to_string().into(),
            m.chat_id.to_string().into(),
            m.role.as_str().into(),
            json(&m.parts)?,
            json(&m.attachments)?,
            ts(&m.created_at).into(),
        ],
        Record::Vote(v) => vec![v.chat_id.to_string().into(), v.message_id.to_string().into(), v.is_upvoted.into()],
        Record::Stream(s) => vec![s.id.to_string().into(), s.chat_id.to_string().into(), ts(&s.created_at).into()],
        Record::Document(d) => vec![
            d.id.to_string().into(),
            ts(&d.created_at).into(),
            d.title.as_str().into(),
            d.kind.as_str().into(),
            d.content.clone().into(),
            d.user_id.to_string().into(),
        ],
        Record::Suggestion(s) => vec![
            s.id.to_string().into(),
            s.document_id.to_string().into(),
            ts(&s.document_created_at).into(),
            s.original_text.as_str().into(),
            s.suggested_text.as_str().into(),
            s.description.clone().into(),
            s.is_resolved.into(),
            s.user_id.to_string().into(),
            ts(&s.created_at).into(),
        ],
        Record::File(f) => vec![
            f.id.to_string().into(),
            f.user_id.to_string().into(),
            f.chat_id.map(|c| c.to_string()).into(),
            f.name.as_str().into(),
            f.content_type.as_str().into(),
            f.size.into(),
            f.storage_key.as_str().into(),
            ts(&f.created_at).into(),
        ],
        Record::GenerationStart(g) => {
            vec![g.id.to_string().into(), g.user_id.to_string().into(), ts(&g.created_at).into()]
        }
    })
}

fn value_bytes(value: &Value) -> usize {
    match value {
        Value::Text(text) => text.len(),
        Value::Blob(blob) => blob.len() * 2,
        _ => 20,
    }
}

/// What an insert does with a row whose key (or unique value) is taken.
#[derive(Clone, Copy)]
enum OnConflict {
    /// Skips it: an import never overwrites.
    Skip,
    /// Replaces the row under the key (a repair); a unique value taken elsewhere still fails.
    Replace,
}

impl OnConflict {
    fn clause(self, shape: &Shape) -> String {
        match self {
            OnConflict::Skip => " ON CONFLICT DO NOTHING RETURNING 1".into(),
            OnConflict::Replace => {
                let set: Vec<String> = shape
                    .columns
                    .iter()
                    .filter(|c| !shape.key.contains(c))
                    .map(|c| format!("\"{c}\" = excluded.\"{c}\""))
                    .collect();
                format!(" ON CONFLICT ({}) DO UPDATE SET {} RETURNING 1", quoted(shape.key), set.join(", "))
            }
        }
    }
}

/// Multi-row inserts of `rows`, each within D1's limits, `RETURNING` one row per row written;
/// `on_conflict` says what happens to rows whose key is taken.
fn inserts(table: Table, rows: &[Record], on_conflict: OnConflict) -> Result<Vec<Statement>> {
    let shape = shape(table);
    let per_row = shape.columns.len();
    // A message's owner is its chat's, as `insert_messages` stores it.
    let extra = if table == Table::Messages { ", \"userId\"" } else { "" };
    let head = format!("INSERT INTO \"{}\" ({}{extra}) VALUES ", shape.table, quoted(shape.columns));
    let tail = on_conflict.clause(&shape);
    let tail = tail.as_str();
    let mut statements = Vec::new();
    let (mut sql, mut params, mut bytes) = (String::new(), Vec::<Value>::new(), 0usize);
    for record in rows {
        if record.table() != table {
            return Err(Error::bad_request(S, format!("a {} row in an import of {table}", record.table())));
        }
        let row = values(record)?;
        let row_bytes: usize = row.iter().map(value_bytes).sum::<usize>() + per_row * 6;
        if !params.is_empty() && (params.len() + per_row > MAX_PARAMS || bytes + row_bytes > MAX_STATEMENT_BYTES) {
            statements.push(finish(&head, &sql, tail, std::mem::take(&mut params)));
            sql.clear();
            bytes = 0;
        }
        let first = params.len() + 1;
        let mut placeholders: Vec<String> = (first..first + per_row).map(|i| format!("?{i}")).collect();
        if table == Table::Messages {
            placeholders.push(format!("(SELECT \"userId\" FROM \"Chat\" WHERE \"id\" = ?{})", first + 1));
        }
        if !sql.is_empty() {
            sql.push_str(", ");
        }
        sql.push('(');
        sql.push_str(&placeholders.join(", "));
        sql.push(')');
        params.extend(row);
        bytes += row_bytes;
    }
    if !params.is_empty() {
        statements.push(finish(&head, &sql, tail, params));
    }
    Ok(statements)
}

/// Rows a batch of `… RETURNING 1` statements wrote or deleted: one returned row each.
fn rows_returned(outcomes: &[crate::sql::Outcome]) -> u64 {
    outcomes.iter().map(|o| o.rows.len() as u64).sum()
}

fn finish(head: &str, values: &str, tail: &str, params: Vec<Value>) -> Statement {
    params.into_iter().fold(Statement::new(format!("{head}{values}{tail}")), Statement::bind)
}

#[async_trait]
impl<E: Executor> DatabaseTransfer for SqlDatabase<E> {
    async fn export_rows(
        &self,
        table: Table,
        after: Option<&RowKey>,
        through: Option<&RowKey>,
        limit: usize,
    ) -> Result<Vec<Record>> {
        let shape = shape(table);
        let mut conditions = Vec::new();
        let mut params = Vec::new();
        for (bound, op) in [(after, ">"), (through, "<=")] {
            if let Some(key) = bound {
                conditions.push(key_bound(&shape, op, params.len() + 1));
                params.extend(key_values(key));
            }
        }
        let filter = if conditions.is_empty() { String::new() } else { format!(" WHERE {}", conditions.join(" AND ")) };
        let sql = format!(
            "SELECT {} FROM \"{}\"{filter} ORDER BY {} LIMIT {}",
            quoted(shape.columns),
            shape.table,
            quoted(shape.key),
            limit.clamp(1, 10_000)
        );
        let select = params.into_iter().fold(Statement::new(sql), Statement::bind);
        self.all(S, select.scans(), shape.decode).await
    }

    async fn import_rows(&self, table: Table, rows: &[Record]) -> Result<u64> {
        Ok(rows_returned(&self.write_all(S, inserts(table, rows, OnConflict::Skip)?).await?))
    }

    async fn overwrite_rows(&self, table: Table, rows: &[Record]) -> Result<u64> {
        Ok(rows_returned(&self.write_all(S, inserts(table, rows, OnConflict::Replace)?).await?))
    }

    async fn delete_rows(&self, table: Table, keys: &[RowKey]) -> Result<u64> {
        if let Some(key) = keys.iter().find(|k| !table.holds(k)) {
            return Err(Error::bad_request(S, format!("{key} is not a key of {table}")));
        }
        let shape = shape(table);
        // One statement per key, `RETURNING` what it deleted; the batch is all or none.
        let deletes = keys
            .iter()
            .map(|key| {
                let sql = format!("DELETE FROM \"{}\" WHERE {} RETURNING 1", shape.table, key_bound(&shape, "=", 1));
                key_values(key).into_iter().fold(Statement::new(sql), Statement::bind)
            })
            .collect();
        Ok(rows_returned(&self.write_all(S, deletes).await?))
    }

    async fn count_rows(&self, table: Table) -> Result<u64> {
        let count = Statement::new(format!("SELECT COUNT(*) FROM \"{}\"", shape(table).table));
        let counts = self.all(S, count.scans(), |mut row| row.count(0)).await?;
        Ok(counts.into_iter().next().unwrap_or(0))
    }

    async fn schema_version(&self) -> Result<SchemaVersion> {
        let newest = Statement::new("SELECT COALESCE(MAX(\"version\"), 0) FROM \"_alleato_migrations\"");
        let applied = self.all(S, newest, |mut row| row.int(0)).await?.into_iter().next().unwrap_or(0);
        Ok(SchemaVersion { applied, known: MIGRATIONS.last().map_or(0, |m| m.0) })
    }

    async fn store_id(&self) -> Result<String> {
        let select = Statement::new("SELECT \"id\" FROM \"Store\"");
        let ids = self.all(S, select, |mut row| row.text(0)).await?;
        ids.into_iter().next().ok_or_else(|| Error::backend(S, "the database has no store id"))
    }
}
