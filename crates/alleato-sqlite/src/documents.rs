use alleato_core::ids::{DocumentId, SuggestionId, UserId};
use alleato_core::model::{Document, DocumentKind, Suggestion};
use alleato_core::ports::DocumentStore;
use alleato_core::time::Timestamp;
use alleato_core::{Error, Result, Surface};
use async_trait::async_trait;

use crate::SqlDatabase;
use crate::sql::{Executor, Row, SqlError, Statement, ts};

macro_rules! document_columns {
    () => {
        r#""id", "createdAt", "title", "kind", "content", "userId""#
    };
}

macro_rules! select_suggestion {
    () => {
        r#"SELECT "id", "documentId", "documentCreatedAt", "originalText", "suggestedText", "description",
             "isResolved", "userId", "createdAt" FROM "Suggestion""#
    };
}

pub(crate) fn document(mut row: Row) -> Result<Document, SqlError> {
    Ok(Document {
        id: row.parsed(0)?,
        created_at: row.timestamp(1)?,
        title: row.text(2)?,
        kind: row.named(3, DocumentKind::parse)?,
        content: row.text_opt(4)?,
        user_id: row.parsed(5)?,
    })
}

pub(crate) fn suggestion(mut row: Row) -> Result<Suggestion, SqlError> {
    Ok(Suggestion {
        id: row.parsed(0)?,
        document_id: row.parsed(1)?,
        document_created_at: row.timestamp(2)?,
        original_text: row.text(3)?,
        suggested_text: row.text(4)?,
        description: row.text_opt(5)?,
        is_resolved: row.bool(6)?,
        user_id: row.parsed(7)?,
        created_at: row.timestamp(8)?,
    })
}

const S: Surface = Surface::Document;

#[async_trait]
impl<E: Executor> DocumentStore for SqlDatabase<E> {
    async fn insert_document(&self, d: &Document) -> Result<()> {
        let insert = Statement::new(
            r#"INSERT INTO "Document" ("id", "createdAt", "title", "kind", "content", "userId")
               VALUES (?1, ?2, ?3, ?4, ?5, ?6)"#,
        )
        .bind(d.id.to_string())
        .bind(ts(&d.created_at))
        .bind(d.title.as_str())
        .bind(d.kind.as_str())
        .bind(d.content.as_deref())
        .bind(d.user_id.to_string());
        self.write(S, insert).await.map(drop)
    }

    async fn document_versions(&self, id: DocumentId) -> Result<Vec<Document>> {
        let select = Statement::new(concat!(
            "SELECT ",
            document_columns!(),
            r#" FROM "Document" WHERE "id" = ?1 ORDER BY "createdAt""#
        ));
        self.all(S, select.bind(id.to_string()), document).await
    }

    async fn latest_documents(&self, user: UserId) -> Result<Vec<Document>> {
        let select = Statement::new(concat!(
            "SELECT ",
            document_columns!(),
            r#" FROM "Document" d WHERE "userId" = ?1 AND "createdAt" =
                 (SELECT MAX("createdAt") FROM "Document" WHERE "id" = d."id")
               ORDER BY "createdAt" DESC, "id" DESC"#
        ));
        self.all(S, select.bind(user.to_string()), document).await
    }

    async fn delete_versions_after(&self, id: DocumentId, after: Timestamp) -> Result<Vec<Document>> {
        // Suggestions of the removed versions go with them (ON DELETE CASCADE).
        let delete = Statement::new(concat!(
            r#"DELETE FROM "Document" WHERE "id" = ?1 AND "createdAt" > ?2 RETURNING "#,
            document_columns!()
        ))
        .bind(id.to_string())
        .bind(ts(&after));
        let outcome = self.write_all(S, vec![delete]).await?.pop().unwrap_or_default();
        let mut removed =
            outcome.rows.into_iter().map(document).collect::<Result<Vec<_>, _>>().map_err(|e| e.into_port(S))?;
        removed.sort_by_key(|d| d.created_at);
        Ok(removed)
    }

    async fn insert_suggestions(&self, suggestions: &[Suggestion]) -> Result<()> {
        let inserts = suggestions
            .iter()
            .map(|s| {
                Statement::new(
                    r#"INSERT INTO "Suggestion" ("id", "documentId", "documentCreatedAt", "originalText",
                         "suggestedText", "description", "isResolved", "userId", "createdAt")
                       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"#,
                )
                .bind(s.id.to_string())
                .bind(s.document_id.to_string())
                .bind(ts(&s.document_created_at))
                .bind(s.original_text.as_str())
                .bind(s.suggested_text.as_str())
                .bind(s.description.as_deref())
                .bind(s.is_resolved)
                .bind(s.user_id.to_string())
                .bind(ts(&s.created_at))
            })
            .collect();
        self.write_all(Surface::Suggestions, inserts).await.map(drop)
    }

    async fn suggestions(&self, document: DocumentId) -> Result<Vec<Suggestion>> {
        let select =
            Statement::new(concat!(select_suggestion!(), r#" WHERE "documentId" = ?1 ORDER BY "createdAt", "id""#));
        self.all(Surface::Suggestions, select.bind(document.to_string()), suggestion).await
    }

    async fn suggestion(&self, id: SuggestionId) -> Result<Option<Suggestion>> {
        let select = Statement::new(concat!(select_suggestion!(), r#" WHERE "id" = ?1"#));
        self.optional(Surface::Suggestions, select.bind(id.to_string()), suggestion).await
    }

    async fn resolve_suggestion(&self, id: SuggestionId) -> Result<()> {
        let update = Statement::new(r#"UPDATE "Suggestion" SET "isResolved" = 1 WHERE "id" = ?1"#).bind(id.to_string());
        if self.write(Surface::Suggestions, update).await? == 0 {
            Err(Error::not_found(Surface::Suggestions))
        } else {
            Ok(())
        }
    }
}
