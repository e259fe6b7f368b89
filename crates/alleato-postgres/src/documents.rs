use alleato_core::ids::{DocumentId, SuggestionId, UserId};
use alleato_core::model::{Document, DocumentKind, Suggestion};
use alleato_core::ports::DocumentStore;
use alleato_core::time::Timestamp;
use alleato_core::{Error, Result, Surface};
use async_trait::async_trait;
use sqlx::Row;
use sqlx::postgres::PgRow;

use crate::PostgresDatabase;
use crate::errors::db;
use crate::users::named;

const S: Surface = Surface::Document;

macro_rules! select_suggestion {
    () => {
        r#"SELECT "id", "documentId", "documentCreatedAt", "originalText", "suggestedText",
    "description", "isResolved", "userId", "createdAt" FROM "Suggestion""#
    };
}

pub(crate) fn document(row: &PgRow) -> sqlx::Result<Document> {
    Ok(Document {
        id: DocumentId(row.try_get(0)?),
        created_at: row.try_get(1)?,
        title: row.try_get(2)?,
        kind: named(row, 3, DocumentKind::parse)?,
        content: row.try_get(4)?,
        user_id: UserId(row.try_get(5)?),
    })
}

pub(crate) fn suggestion(row: &PgRow) -> sqlx::Result<Suggestion> {
    Ok(Suggestion {
        id: SuggestionId(row.try_get(0)?),
        document_id: DocumentId(row.try_get(1)?),
        document_created_at: row.try_get(2)?,
        original_text: row.try_get(3)?,
        suggested_text: row.try_get(4)?,
        description: row.try_get(5)?,
        is_resolved: row.try_get(6)?,
        user_id: UserId(row.try_get(7)?),
        created_at: row.try_get(8)?,
    })
}

#[async_trait]
impl DocumentStore for PostgresDatabase {
    async fn insert_document(&self, d: &Document) -> Result<()> {
        sqlx::query(
            r#"INSERT INTO "Document" ("id", "createdAt", "title", "kind", "content", "userId") VALUES ($1, $2, $3, $4, $5, $6)"#,
        )
        .bind(d.id.0)
        .bind(d.created_at)
        .bind(&d.title)
        .bind(d.kind.as_str())
        .bind(&d.content)
        .bind(d.user_id.0)
        .execute(&self.pool)
        .await
        .map_err(db(S))?;
        Ok(())
    }

    async fn document_versions(&self, id: DocumentId) -> Result<Vec<Document>> {
        let rows = sqlx::query(r#"SELECT "id", "createdAt", "title", "kind", "content", "userId" FROM "Document" WHERE "id" = $1 ORDER BY "createdAt""#)
            .bind(id.0)
            .fetch_all(&self.pool)
            .await
            .map_err(db(S))?;
        rows.iter().map(document).collect::<sqlx::Result<_>>().map_err(db(S))
    }

    async fn latest_documents(&self, user: UserId) -> Result<Vec<Document>> {
        let rows = sqlx::query(
            r#"SELECT "id", "createdAt", "title", "kind", "content", "userId" FROM (
                 SELECT DISTINCT ON ("id") "id", "createdAt", "title", "kind", "content", "userId"
                 FROM "Document" WHERE "userId" = $1 ORDER BY "id", "createdAt" DESC
               ) latest ORDER BY "createdAt" DESC, "id" DESC"#,
        )
        .bind(user.0)
        .fetch_all(&self.pool)
        .await
        .map_err(db(S))?;
        rows.iter().map(document).collect::<sqlx::Result<_>>().map_err(db(S))
    }

    async fn delete_versions_after(&self, id: DocumentId, after: Timestamp) -> Result<Vec<Document>> {
        // Suggestions of the removed versions go with them (ON DELETE CASCADE).
        let rows = sqlx::query(
            r#"DELETE FROM "Document" WHERE "id" = $1 AND "createdAt" > $2
               RETURNING "id", "createdAt", "title", "kind", "content", "userId""#,
        )
        .bind(id.0)
        .bind(after)
        .fetch_all(&self.pool)
        .await
        .map_err(db(S))?;
        let mut removed: Vec<Document> = rows.iter().map(document).collect::<sqlx::Result<_>>().map_err(db(S))?;
        removed.sort_by_key(|d| d.created_at);
        Ok(removed)
    }

    async fn insert_suggestions(&self, suggestions: &[Suggestion]) -> Result<()> {
        let s = Surface::Suggestions;
        let mut tx = self.pool.begin().await.map_err(db(s))?;
        for x in suggestions {
            sqlx::query(
                r#"INSERT INTO "Suggestion" ("id", "documentId", "documentCreatedAt", "originalText", "suggestedText",
                     "description", "isResolved", "userId", "createdAt") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"#,
            )
            .bind(x.id.0)
            .bind(x.document_id.0)
            .bind(x.document_created_at)
            .bind(&x.original_text)
            .bind(&x.suggested_text)
            .bind(&x.description)
            .bind(x.is_resolved)
            .bind(x.user_id.0)
            .bind(x.created_at)
            .execute(&mut *tx)
            .await
            .map_err(db(s))?;
        }
        tx.commit().await.map_err(db(s))
    }

    async fn suggestions(&self, document: DocumentId) -> Result<Vec<Suggestion>> {
        let rows = sqlx::query(concat!(select_suggestion!(), r#" WHERE "documentId" = $1 ORDER BY "createdAt", "id""#))
            .bind(document.0)
            .fetch_all(&self.pool)
            .await
            .map_err(db(Surface::Suggestions))?;
        rows.iter().map(suggestion).collect::<sqlx::Result<_>>().map_err(db(Surface::Suggestions))
    }

    async fn suggestion(&self, id: SuggestionId) -> Result<Option<Suggestion>> {
        let row = sqlx::query(concat!(select_suggestion!(), r#" WHERE "id" = $1"#))
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(db(Surface::Suggestions))?;
        row.as_ref().map(suggestion).transpose().map_err(db(Surface::Suggestions))
    }

    async fn resolve_suggestion(&self, id: SuggestionId) -> Result<()> {
        let done = sqlx::query(r#"UPDATE "Suggestion" SET "isResolved" = true WHERE "id" = $1"#)
            .bind(id.0)
            .execute(&self.pool)
            .await
            .map_err(db(Surface::Suggestions))?;
        if done.rows_affected() == 0 { Err(Error::not_found(Surface::Suggestions)) } else { Ok(()) }
    }
}
