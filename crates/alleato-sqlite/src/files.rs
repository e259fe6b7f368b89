use alleato_core::ids::{FileId, UserId};
use alleato_core::model::FileMeta;
use alleato_core::ports::FileStore;
use alleato_core::{Error, Result, Surface};
use async_trait::async_trait;
use rusqlite::{OptionalExtension, Row, params};

use crate::SqliteDatabase;
use crate::errors::db;
use crate::rows::{parsed, parsed_opt, timestamp, ts};

const FILE_COLUMNS: &str = r#""id", "userId", "chatId", "name", "contentType", "size", "storageKey", "createdAt""#;

fn file(row: &Row<'_>) -> rusqlite::Result<FileMeta> {
    Ok(FileMeta {
        id: parsed(row, 0)?,
        user_id: parsed(row, 1)?,
        chat_id: parsed_opt(row, 2)?,
        name: row.get(3)?,
        content_type: row.get(4)?,
        size: row.get::<_, i64>(5)? as u64,
        storage_key: row.get(6)?,
        created_at: timestamp(row, 7)?,
    })
}

const S: Surface = Surface::File;

#[async_trait]
impl FileStore for SqliteDatabase {
    async fn insert_file(&self, f: &FileMeta) -> Result<()> {
        let f = f.clone();
        self.pool
            .write(move |tx| {
                tx.execute(
                    r#"INSERT INTO "File" ("id", "userId", "chatId", "name", "contentType", "size", "storageKey", "createdAt")
                       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"#,
                    params![
                        f.id.to_string(),
                        f.user_id.to_string(),
                        f.chat_id.map(|c| c.to_string()),
                        f.name,
                        f.content_type,
                        f.size as i64,
                        f.storage_key,
                        ts(&f.created_at)
                    ],
                )
                .map_err(db(S))?;
                Ok(())
            })
            .await
    }

    async fn file(&self, id: FileId) -> Result<Option<FileMeta>> {
        self.pool
            .read(move |c| {
                let sql = format!(r#"SELECT {FILE_COLUMNS} FROM "File" WHERE "id" = ?1"#);
                c.prepare_cached(&sql).and_then(|mut s| s.query_row([id.to_string()], file).optional()).map_err(db(S))
            })
            .await
    }

    async fn delete_file(&self, id: FileId) -> Result<()> {
        self.pool
            .write(move |tx| {
                let n = tx.execute(r#"DELETE FROM "File" WHERE "id" = ?1"#, [id.to_string()]).map_err(db(S))?;
                if n == 0 { Err(Error::not_found(S)) } else { Ok(()) }
            })
            .await
    }

    async fn files_of(&self, user: UserId) -> Result<Vec<FileMeta>> {
        self.pool
            .read(move |c| {
                let sql =
                    format!(r#"SELECT {FILE_COLUMNS} FROM "File" WHERE "userId" = ?1 ORDER BY "createdAt", "id""#);
                let mut stmt = c.prepare_cached(&sql).map_err(db(S))?;
                stmt.query_map([user.to_string()], file).and_then(Iterator::collect).map_err(db(S))
            })
            .await
    }
}
