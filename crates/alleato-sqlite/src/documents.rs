use alleato_core::ids::{DocumentId, SuggestionId, UserId};
use alleato_core::model::{Document, DocumentKind, Suggestion};
use alleato_core::ports::DocumentStore;
use alleato_core::time::Timestamp;
use alleato_core::{Error, Result, Surface};
use async_trait::async_trait;
use rusqlite::{OptionalExtension, Row, params};

use crate::SqliteDatabase;
use crate::errors::db;
use crate::rows::{named, parsed, timestamp, ts};

const DOCUMENT_COLUMNS: &str = r#""id", "createdAt", "title", "kind", "content", "userId""#;
const SUGGESTION_COLUMNS: &str = r#""id", "documentId", "documentCreatedAt", "originalText", "suggestedText",
    "description", "isResolved", "userId", "createdAt""#;

fn document(row: &Row<'_>) -> rusqlite::Result<Document> {
    Ok(Document {
        id: parsed(row, 0)?,
        created_at: timestamp(row, 1)?,
        title: row.get(2)?,
        kind: named(row, 3, DocumentKind::parse)?,
        content: row.get(4)?,
        user_id: parsed(row, 5)?,
    })
}

fn suggestion(row: &Row<'_>) -> rusqlite::Result<Suggestion> {
    Ok(Suggestion {
        id: parsed(row, 0)?,
        document_id: parsed(row, 1)?,
        document_created_at: timestamp(row, 2)?,
        original_text: row.get(3)?,
        suggested_text: row.get(4)?,
        description: row.get(5)?,
        is_resolved: row.get(6)?,
        user_id: parsed(row, 7)?,
        created_at: timestamp(row, 8)?,
    })
}

const S: Surface = Surface::Document;

#[async_trait]
impl DocumentStore for SqliteDatabase {
    async fn insert_document(&self, d: &Document) -> Result<()> {
        let d = d.clone();
        self.pool
            .write(move |tx| {
                tx.execute(
                    r#"INSERT INTO "Document" ("id", "createdAt", "title", "kind", "content", "userId")
                       VALUES (?1, ?2, ?3, ?4, ?5, ?6)"#,
                    params![
                        d.id.to_string(),
                        ts(&d.created_at),
                        d.title,
                        d.kind.as_str(),
                        d.content,
                        d.user_id.to_string()
                    ],
                )
                .map_err(db(S))?;
                Ok(())
            })
            .await
    }

    async fn document_versions(&self, id: DocumentId) -> Result<Vec<Document>> {
        self.pool
            .read(move |c| {
                let sql = format!(r#"SELECT {DOCUMENT_COLUMNS} FROM "Document" WHERE "id" = ?1 ORDER BY "createdAt""#);
                let mut stmt = c.prepare_cached(&sql).map_err(db(S))?;
                stmt.query_map([id.to_string()], document).and_then(Iterator::collect).map_err(db(S))
            })
            .await
    }

    async fn latest_documents(&self, user: UserId) -> Result<Vec<Document>> {
        self.pool
            .read(move |c| {
                let sql = format!(
                    r#"SELECT {DOCUMENT_COLUMNS} FROM "Document" d WHERE "userId" = ?1 AND "createdAt" =
                         (SELECT MAX("createdAt") FROM "Document" WHERE "id" = d."id")
                       ORDER BY "createdAt" DESC, "id" DESC"#
                );
                let mut stmt = c.prepare_cached(&sql).map_err(db(S))?;
                stmt.query_map([user.to_string()], document).and_then(Iterator::collect).map_err(db(S))
            })
            .await
    }

    async fn delete_versions_after(&self, id: DocumentId, after: Timestamp) -> Result<Vec<Document>> {
        self.pool
            .write(move |tx| {
                let sql = format!(
                    r#"DELETE FROM "Document" WHERE "id" = ?1 AND "createdAt" > ?2 RETURNING {DOCUMENT_COLUMNS}"#
                );
                // Suggestions of the removed versions go with them (ON DELETE CASCADE).
                let mut stmt = tx.prepare_cached(&sql).map_err(db(S))?;
                let mut removed: Vec<Document> = stmt
                    .query_map(params![id.to_string(), ts(&after)], document)
                    .and_then(Iterator::collect)
                    .map_err(db(S))?;
                removed.sort_by_key(|d| d.created_at);
                Ok(removed)
            })
            .await
    }

    async fn insert_suggestions(&self, suggestions: &[Suggestion]) -> Result<()> {
        let suggestions = suggestions.to_vec();
        self.pool
            .write(move |tx| {
                let mut stmt = tx
                    .prepare_cached(
                        r#"INSERT INTO "Suggestion" ("id", "documentId", "documentCreatedAt", "originalText",
                             "suggestedText", "description", "isResolved", "userId", "createdAt")
                           VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"#,
                    )
                    .map_err(db(Surface::Suggestions))?;
                for s in suggestions {
                    stmt.execute(params![
                        s.id.to_string(),
                        s.document_id.to_string(),
                        ts(&s.document_created_at),
                        s.original_text,
                        s.suggested_text,
                        s.description,
                        s.is_resolved,
                        s.user_id.to_string(),
                        ts(&s.created_at)
                    ])
                    .map_err(db(Surface::Suggestions))?;
                }
                Ok(())
            })
            .await
    }

    async fn suggestions(&self, document: DocumentId) -> Result<Vec<Suggestion>> {
        self.pool
            .read(move |c| {
                let sql = format!(
                    r#"SELECT {SUGGESTION_COLUMNS} FROM "Suggestion" WHERE "documentId" = ?1 ORDER BY "createdAt", "id""#
                );
                let mut stmt = c.prepare_cached(&sql).map_err(db(Surface::Suggestions))?;
                stmt.query_map([document.to_string()], suggestion).and_then(Iterator::collect).map_err(db(Surface::Suggestions))
            })
            .await
    }

    async fn suggestion(&self, id: SuggestionId) -> Result<Option<Suggestion>> {
        self.pool
            .read(move |c| {
                let sql = format!(r#"SELECT {SUGGESTION_COLUMNS} FROM "Suggestion" WHERE "id" = ?1"#);
                c.prepare_cached(&sql)
                    .and_then(|mut s| s.query_row([id.to_string()], suggestion).optional())
                    .map_err(db(Surface::Suggestions))
            })
            .await
    }

    async fn resolve_suggestion(&self, id: SuggestionId) -> Result<()> {
        self.pool
            .write(move |tx| {
                let n = tx
                    .execute(r#"UPDATE "Suggestion" SET "isResolved" = 1 WHERE "id" = ?1"#, [id.to_string()])
                    .map_err(db(Surface::Suggestions))?;
                if n == 0 { Err(Error::not_found(Surface::Suggestions)) } else { Ok(()) }
            })
            .await
    }
}
