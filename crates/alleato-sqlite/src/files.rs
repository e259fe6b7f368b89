use alleato_core::ids::{FileId, UserId};
use alleato_core::model::FileMeta;
use alleato_core::ports::FileStore;
use alleato_core::{Error, Result, Surface};
use async_trait::async_trait;

use crate::SqlDatabase;
use crate::sql::{Executor, Row, SqlError, Statement, ts};

macro_rules! select_file {
    () => {
        r#"SELECT "id", "userId", "chatId", "name", "contentType", "size", "storageKey", "createdAt" FROM "File""#
    };
}

pub(crate) fn file(mut row: Row) -> Result<FileMeta, SqlError> {
    Ok(FileMeta {
        id: row.parsed(0)?,
        user_id: row.parsed(1)?,
        chat_id: row.parsed_opt(2)?,
        name: row.text(3)?,
        content_type: row.text(4)?,
        size: row.count(5)?,
        storage_key: row.text(6)?,
        created_at: row.timestamp(7)?,
    })
}

const S: Surface = Surface::File;

#[async_trait]
impl<E: Executor> FileStore for SqlDatabase<E> {
    async fn insert_file(&self, f: &FileMeta) -> Result<()> {
        let insert = Statement::new(
            r#"INSERT INTO "File" ("id", "userId", "chatId", "name", "contentType", "size", "storageKey", "createdAt")
               VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"#,
        )
        .bind(f.id.to_string())
        .bind(f.user_id.to_string())
        .bind(f.chat_id.map(|c| c.to_string()))
        .bind(f.name.as_str())
        .bind(f.content_type.as_str())
        .bind(f.size)
        .bind(f.storage_key.as_str())
        .bind(ts(&f.created_at));
        self.write(S, insert).await.map(drop)
    }

    async fn file(&self, id: FileId) -> Result<Option<FileMeta>> {
        self.optional(S, Statement::new(concat!(select_file!(), r#" WHERE "id" = ?1"#)).bind(id.to_string()), file)
            .await
    }

    async fn delete_file(&self, id: FileId) -> Result<()> {
        let delete = Statement::new(r#"DELETE FROM "File" WHERE "id" = ?1"#).bind(id.to_string());
        if self.write(S, delete).await? == 0 { Err(Error::not_found(S)) } else { Ok(()) }
    }

    async fn files_of(&self, user: UserId) -> Result<Vec<FileMeta>> {
        let select = Statement::new(concat!(select_file!(), r#" WHERE "userId" = ?1 ORDER BY "createdAt", "id""#));
        self.all(S, select.bind(user.to_string()), file).await
    }
}
