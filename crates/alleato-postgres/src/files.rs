use alleato_core::ids::{ChatId, FileId, UserId};
use alleato_core::model::FileMeta;
use alleato_core::ports::FileStore;
use alleato_core::{Error, Result, Surface};
use async_trait::async_trait;
use sqlx::Row;
use sqlx::postgres::PgRow;

use crate::PostgresDatabase;
use crate::errors::db;

const S: Surface = Surface::File;
macro_rules! select_file {
    () => {
        r#"SELECT "id", "userId", "chatId", "name", "contentType", "size", "storageKey", "createdAt" FROM "File""#
    };
}

pub(crate) fn file(row: &PgRow) -> sqlx::Result<FileMeta> {
    Ok(FileMeta {
        id: FileId(row.try_get(0)?),
        user_id: UserId(row.try_get(1)?),
        chat_id: row.try_get::<Option<uuid::Uuid>, _>(2)?.map(ChatId),
        name: row.try_get(3)?,
        content_type: row.try_get(4)?,
        size: row.try_get::<i64, _>(5)? as u64,
        storage_key: row.try_get(6)?,
        created_at: row.try_get(7)?,
    })
}

#[async_trait]
impl FileStore for PostgresDatabase {
    async fn insert_file(&self, f: &FileMeta) -> Result<()> {
        sqlx::query(
            r#"INSERT INTO "File" ("id", "userId", "chatId", "name", "contentType", "size", "storageKey", "createdAt")
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"#,
        )
        .bind(f.id.0)
        .bind(f.user_id.0)
        .bind(f.chat_id.map(|c| c.0))
        .bind(&f.name)
        .bind(&f.content_type)
        .bind(f.size as i64)
        .bind(&f.storage_key)
        .bind(f.created_at)
        .execute(&self.pool)
        .await
        .map_err(db(S))?;
        Ok(())
    }

    async fn file(&self, id: FileId) -> Result<Option<FileMeta>> {
        let row = sqlx::query(concat!(select_file!(), r#" WHERE "id" = $1"#))
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(db(S))?;
        row.as_ref().map(file).transpose().map_err(db(S))
    }

    async fn delete_file(&self, id: FileId) -> Result<()> {
        let done =
            sqlx::query(r#"DELETE FROM "File" WHERE "id" = $1"#).bind(id.0).execute(&self.pool).await.map_err(db(S))?;
        if done.rows_affected() == 0 { Err(Error::not_found(S)) } else { Ok(()) }
    }

    async fn files_of(&self, user: UserId) -> Result<Vec<FileMeta>> {
        let rows = sqlx::query(concat!(select_file!(), r#" WHERE "userId" = $1 ORDER BY "createdAt", "id""#))
            .bind(user.0)
            .fetch_all(&self.pool)
            .await
            .map_err(db(S))?;
        rows.iter().map(file).collect::<sqlx::Result<_>>().map_err(db(S))
    }
}
