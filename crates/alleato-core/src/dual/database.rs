//! [`DualDatabase`]: every database port over a primary and a secondary database.

use std::sync::Arc;

use async_trait::async_trait;

use super::{DualWrite, Scope};
use crate::error::Result;
use crate::ids::{ChatId, DocumentId, FileId, MessageId, SuggestionId, UserId};
use crate::model::{Chat, ChatPage, Document, FileMeta, Stats, StoredMessage, StreamRecord, Suggestion, User, Vote};
use crate::ports::{
    ChatStore, DatabaseAdmin, DatabaseTransfer, DocumentStore, FileStore, GenerationBegin, GenerationBegun,
    GenerationStart, QuotaUse, Record, RowKey, SchemaVersion, SessionRevocation, Table, TitleUpdate, UserStore,
};
use crate::services::DatabasePorts;
use crate::time::Timestamp;

/// The database ports over two databases: writes to both (the primary's answer counts), reads
/// from the primary (see the [module](super)). `DatabaseTransfer` is the primary's alone.
pub struct DualDatabase {
    primary: DatabasePorts,
    secondary: DatabasePorts,
    dual: DualWrite,
}

impl DualDatabase {
    /// The database ports over `primary` and `secondary`.
    pub fn new(primary: DatabasePorts, secondary: DatabasePorts, dual: DualWrite) -> Arc<Self> {
        Arc::new(Self { primary, secondary, dual })
    }

    /// Reads again from the secondary, when this read is shadowed. `read` gets the secondary's
    /// ports and returns the read's future.
    fn shadow<T, F>(&self, what: &'static str, primary: &T, read: impl FnOnce(DatabasePorts) -> F)
    where
        T: PartialEq + Clone + Send + 'static,
        F: Future<Output = Result<T>> + Send + 'static,
    {
        if self.dual.shadowed() {
            self.dual.shadow(what, primary, read(self.secondary.clone()));
        }
    }

    async fn mirror<T>(
        &self,
        operation: &str,
        scopes: Vec<Scope>,
        write: impl Future<Output = Result<T>>,
    ) -> Option<T> {
        self.dual.secondary(operation, scopes, false, write).await
    }

    async fn mirror_delete<T>(
        &self,
        operation: &str,
        scopes: Vec<Scope>,
        write: impl Future<Output = Result<T>>,
    ) -> Option<T> {
        self.dual.secondary(operation, scopes, true, write).await
    }
}

/// A quota record the primary allowed, recorded on the secondary whatever its window holds.
fn unlimited(start: &GenerationStart) -> GenerationStart {
    GenerationStart { limit: u64::MAX, ..start.clone() }
}

/// The scopes, each once, in the order first given.
fn distinct(scopes: impl IntoIterator<Item = Scope>) -> Vec<Scope> {
    let mut once: Vec<Scope> = Vec::new();
    for scope in scopes {
        if !once.contains(&scope) {
            once.push(scope);
        }
    }
    once
}

#[deny(clippy::missing_trait_methods)]
#[async_trait]
impl UserStore for DualDatabase {
    async fn insert_user(&self, user: &User) -> Result<()> {
        self.primary.users.insert_user(user).await?;
        self.mirror("insert_user", vec![Scope::User(user.id)], self.secondary.users.insert_user(user)).await;
        Ok(())
    }

    async fn user_by_id(&self, id: UserId) -> Result<Option<User>> {
        let found = self.primary.users.user_by_id(id).await?;
        self.shadow("user_by_id", &found, |s| async move { s.users.user_by_id(id).await });
        Ok(found)
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>> {
        let found = self.primary.users.user_by_email(email).await?;
        let email = email.to_owned();
        self.shadow("user_by_email", &found, |s| async move { s.users.user_by_email(&email).await });
        Ok(found)
    }

    async fn update_user(&self, user: &User) -> Result<()> {
        self.primary.users.update_user(user).await?;
        self.mirror("update_user", vec![Scope::User(user.id)], self.secondary.users.update_user(user)).await;
        Ok(())
    }

    async fn delete_user(&self, id: UserId) -> Result<()> {
        self.primary.users.delete_user(id).await?;
        self.mirror_delete("delete_user", vec![Scope::User(id)], self.secondary.users.delete_user(id)).await;
        Ok(())
    }

    async fn revoke_session(&self, revocation: &SessionRevocation, forget_before: Timestamp) -> Result<()> {
        self.primary.users.revoke_session(revocation, forget_before).await?;
        // Logouts are not copied by `migrate` (they matter for minutes): nothing to repair.
        let write = self.secondary.users.revoke_session(revocation, forget_before);
        self.mirror("revoke_session", Vec::new(), write).await;
        Ok(())
    }

    async fn revoked_sessions(&self, since: Timestamp) -> Result<Vec<SessionRevocation>> {
        self.primary.users.revoked_sessions(since).await
    }
}

#[deny(clippy::missing_trait_methods)]
#[async_trait]
impl ChatStore for DualDatabase {
    async fn insert_chat(&self, chat: &Chat) -> Result<()> {
        self.primary.chats.insert_chat(chat).await?;
        self.mirror("insert_chat", vec![Scope::Chat(chat.id)], self.secondary.chats.insert_chat(chat)).await;
        Ok(())
    }

    async fn chat(&self, id: ChatId) -> Result<Option<Chat>> {
        let found = self.primary.chats.chat(id).await?;
        self.shadow("chat", &found, |s| async move { s.chats.chat(id).await });
        Ok(found)
    }

    async fn list_chats(&self, user: UserId, page: &ChatPage) -> Result<Vec<Chat>> {
        let found = self.primary.chats.list_chats(user, page).await?;
        let page = *page;
        self.shadow("list_chats", &found, |s| async move { s.chats.list_chats(user, &page).await });
        Ok(found)
    }

    async fn update_chat(&self, chat: &Chat) -> Result<()> {
        self.primary.chats.update_chat(chat).await?;
        self.mirror("update_chat", vec![Scope::Chat(chat.id)], self.secondary.chats.update_chat(chat)).await;
        Ok(())
    }

    async fn set_title_if(&self, id: ChatId, expected: &str, title: &str, at: Timestamp) -> Result<bool> {
        let set = self.primary.chats.set_title_if(id, expected, title, at).await?;
        if set {
            let write = self.secondary.chats.set_title_if(id, expected, title, at);
            if self.mirror("set_title_if", vec![Scope::Chat(id)], write).await == Some(false) {
                self.dual.failed("set_title_if", vec![Scope::Chat(id)], "the secondary's title was another".into());
            }
        }
        Ok(set)
    }

    async fn delete_chat(&self, id: ChatId) -> Result<()> {
        self.primary.chats.delete_chat(id).await?;
        self.mirror_delete("delete_chat", vec![Scope::Chat(id)], self.secondary.chats.delete_chat(id)).await;
        Ok(())
    }

    async fn delete_chats_of(&self, user: UserId) -> Result<u64> {
        let deleted = self.primary.chats.delete_chats_of(user).await?;
        let write = self.secondary.chats.delete_chats_of(user);
        self.mirror_delete("delete_chats_of", vec![Scope::User(user)], write).await;
        Ok(deleted)
    }

    async fn insert_messages(&self, messages: &[StoredMessage]) -> Result<()> {
        self.primary.chats.insert_messages(messages).await?;
        let scopes = distinct(messages.iter().map(|m| Scope::Chat(m.chat_id)));
        self.mirror("insert_messages", scopes, self.secondary.chats.insert_messages(messages)).await;
        Ok(())
    }

    async fn messages(&self, chat: ChatId) -> Result<Vec<StoredMessage>> {
        let found = self.primary.chats.messages(chat).await?;
        self.shadow("messages", &found, |s| async move { s.chats.messages(chat).await });
        Ok(found)
    }

    async fn chat_with_messages(&self, id: ChatId) -> Result<Option<(Chat, Vec<StoredMessage>)>> {
        let found = self.primary.chats.chat_with_messages(id).await?;
        self.shadow("chat_with_messages", &found, |s| async move { s.chats.chat_with_messages(id).await });
        Ok(found)
    }

    async fn message(&self, id: MessageId) -> Result<Option<StoredMessage>> {
        let found = self.primary.chats.message(id).await?;
        self.shadow("message", &found, |s| async move { s.chats.message(id).await });
        Ok(found)
    }

    async fn delete_messages_from(&self, chat: ChatId, from: Timestamp) -> Result<u64> {
        let deleted = self.primary.chats.delete_messages_from(chat, from).await?;
        let write = self.secondary.chats.delete_messages_from(chat, from);
        self.mirror_delete("delete_messages_from", vec![Scope::Chat(chat)], write).await;
        Ok(deleted)
    }

    async fn take_generation_quota(&self, start: &GenerationStart) -> Result<QuotaUse> {
        let quota = self.primary.chats.take_generation_quota(start).await?;
        if quota.allowed {
            let start = unlimited(start);
            let write = self.secondary.chats.take_generation_quota(&start);
            self.mirror("take_generation_quota", vec![Scope::User(start.user)], write).await;
        }
        Ok(quota)
    }

    async fn chat_and_message(
        &self,
        chat: ChatId,
        message: MessageId,
    ) -> Result<(Option<Chat>, Option<StoredMessage>)> {
        let found = self.primary.chats.chat_and_message(chat, message).await?;
        self.shadow("chat_and_message", &found, |s| async move { s.chats.chat_and_message(chat, message).await });
        Ok(found)
    }

    async fn begin_generation(&self, begin: &GenerationBegin) -> Result<GenerationBegun> {
        let begun = self.primary.chats.begin_generation(begin).await?;
        if begun.quota.allowed {
            let replay = GenerationBegin { quota: unlimited(&begin.quota), ..begin.clone() };
            let scopes = vec![Scope::User(begin.quota.user), Scope::Chat(begin.message.chat_id)];
            let write = self.secondary.chats.begin_generation(&replay);
            // Regenerating deletes the messages after the edited one.
            self.dual.secondary("begin_generation", scopes, begin.delete_from.is_some(), write).await;
        }
        Ok(begun)
    }

    async fn finish_generation(&self, answer: Option<&StoredMessage>, title: Option<&TitleUpdate>) -> Result<bool> {
        let set = self.primary.chats.finish_generation(answer, title).await?;
        // A title the primary did not set (the owner renamed the chat) is not set here either.
        let title = title.filter(|_| set);
        if answer.is_none() && title.is_none() {
            return Ok(set);
        }
        let scopes =
            distinct(answer.map(|a| Scope::Chat(a.chat_id)).into_iter().chain(title.map(|t| Scope::Chat(t.chat))));
        let write = self.secondary.chats.finish_generation(answer, title);
        if let Some(theirs) = self.mirror("finish_generation", scopes.clone(), write).await
            && theirs != title.is_some()
        {
            self.dual.failed("finish_generation", scopes, "the secondary's title was another".into());
        }
        Ok(set)
    }

    async fn set_vote(&self, vote: &Vote) -> Result<()> {
        self.primary.chats.set_vote(vote).await?;
        self.mirror("set_vote", vec![Scope::Chat(vote.chat_id)], self.secondary.chats.set_vote(vote)).await;
        Ok(())
    }

    async fn votes(&self, chat: ChatId) -> Result<Vec<Vote>> {
        let found = self.primary.chats.votes(chat).await?;
        self.shadow("votes", &found, |s| async move { s.chats.votes(chat).await });
        Ok(found)
    }

    async fn insert_stream(&self, stream: &StreamRecord) -> Result<()> {
        self.primary.chats.insert_stream(stream).await?;
        let write = self.secondary.chats.insert_stream(stream);
        self.mirror("insert_stream", vec![Scope::Chat(stream.chat_id)], write).await;
        Ok(())
    }

    async fn streams(&self, chat: ChatId) -> Result<Vec<StreamRecord>> {
        let found = self.primary.chats.streams(chat).await?;
        self.shadow("streams", &found, |s| async move { s.chats.streams(chat).await });
        Ok(found)
    }
}

#[deny(clippy::missing_trait_methods)]
#[async_trait]
impl DocumentStore for DualDatabase {
    async fn insert_document(&self, document: &Document) -> Result<()> {
        self.primary.documents.insert_document(document).await?;
        let write = self.secondary.documents.insert_document(document);
        self.mirror("insert_document", vec![Scope::Document(document.id)], write).await;
        Ok(())
    }

    async fn document_versions(&self, id: DocumentId) -> Result<Vec<Document>> {
        let found = self.primary.documents.document_versions(id).await?;
        self.shadow("document_versions", &found, |s| async move { s.documents.document_versions(id).await });
        Ok(found)
    }

    async fn latest_documents(&self, user: UserId) -> Result<Vec<Document>> {
        let found = self.primary.documents.latest_documents(user).await?;
        self.shadow("latest_documents", &found, |s| async move { s.documents.latest_documents(user).await });
        Ok(found)
    }

    async fn delete_versions_after(&self, id: DocumentId, after: Timestamp) -> Result<Vec<Document>> {
        let deleted = self.primary.documents.delete_versions_after(id, after).await?;
        let write = self.secondary.documents.delete_versions_after(id, after);
        self.mirror_delete("delete_versions_after", vec![Scope::Document(id)], write).await;
        Ok(deleted)
    }

    async fn insert_suggestions(&self, suggestions: &[Suggestion]) -> Result<()> {
        self.primary.documents.insert_suggestions(suggestions).await?;
        let scopes = distinct(suggestions.iter().map(|s| Scope::Document(s.document_id)));
        self.mirror("insert_suggestions", scopes, self.secondary.documents.insert_suggestions(suggestions)).await;
        Ok(())
    }

    async fn suggestions(&self, document: DocumentId) -> Result<Vec<Suggestion>> {
        let found = self.primary.documents.suggestions(document).await?;
        self.shadow("suggestions", &found, |s| async move { s.documents.suggestions(document).await });
        Ok(found)
    }

    async fn suggestion(&self, id: SuggestionId) -> Result<Option<Suggestion>> {
        let found = self.primary.documents.suggestion(id).await?;
        self.shadow("suggestion", &found, |s| async move { s.documents.suggestion(id).await });
        Ok(found)
    }

    async fn resolve_suggestion(&self, id: SuggestionId) -> Result<()> {
        self.primary.documents.resolve_suggestion(id).await?;
        let write = self.secondary.documents.resolve_suggestion(id);
        self.mirror("resolve_suggestion", vec![Scope::Suggestion(id)], write).await;
        Ok(())
    }
}

#[deny(clippy::missing_trait_methods)]
#[async_trait]
impl FileStore for DualDatabase {
    async fn insert_file(&self, file: &FileMeta) -> Result<()> {
        self.primary.files.insert_file(file).await?;
        self.mirror("insert_file", vec![Scope::File(file.id)], self.secondary.files.insert_file(file)).await;
        Ok(())
    }

    async fn file(&self, id: FileId) -> Result<Option<FileMeta>> {
        let found = self.primary.files.file(id).await?;
        self.shadow("file", &found, |s| async move { s.files.file(id).await });
        Ok(found)
    }

    async fn delete_file(&self, id: FileId) -> Result<()> {
        self.primary.files.delete_file(id).await?;
        self.mirror_delete("delete_file", vec![Scope::File(id)], self.secondary.files.delete_file(id)).await;
        Ok(())
    }

    async fn files_of(&self, user: UserId) -> Result<Vec<FileMeta>> {
        let found = self.primary.files.files_of(user).await?;
        self.shadow("files_of", &found, |s| async move { s.files.files_of(user).await });
        Ok(found)
    }
}

#[deny(clippy::missing_trait_methods)]
#[async_trait]
impl DatabaseAdmin for DualDatabase {
    async fn ping(&self) -> Result<()> {
        self.primary.admin.ping().await
    }

    /// The primary's counts, and what dual-write has seen.
    async fn stats(&self) -> Result<Stats> {
        let stats = self.primary.admin.stats().await?;
        Ok(Stats { dual_write: Some(self.dual.counters.snapshot()), ..stats })
    }
}

/// The primary's: `migrate` reaches each database directly, never through dual-write.
#[deny(clippy::missing_trait_methods)]
#[async_trait]
impl DatabaseTransfer for DualDatabase {
    async fn export_rows(
        &self,
        table: Table,
        after: Option<&RowKey>,
        through: Option<&RowKey>,
        limit: usize,
    ) -> Result<Vec<Record>> {
        self.primary.transfer.export_rows(table, after, through, limit).await
    }

    async fn import_rows(&self, table: Table, rows: &[Record]) -> Result<u64> {
        self.primary.transfer.import_rows(table, rows).await
    }

    async fn overwrite_rows(&self, table: Table, rows: &[Record]) -> Result<u64> {
        self.primary.transfer.overwrite_rows(table, rows).await
    }

    async fn delete_rows(&self, table: Table, keys: &[RowKey]) -> Result<u64> {
        self.primary.transfer.delete_rows(table, keys).await
    }

    async fn count_rows(&self, table: Table) -> Result<u64> {
        self.primary.transfer.count_rows(table).await
    }

    async fn schema_version(&self) -> Result<SchemaVersion> {
        self.primary.transfer.schema_version().await
    }

    async fn store_id(&self) -> Result<String> {
        self.primary.transfer.store_id().await
    }
}
