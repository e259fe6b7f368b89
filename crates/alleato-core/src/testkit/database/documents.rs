//! The document and file stores' contract: versions, suggestions, file metadata.

use std::sync::Arc;

use super::*;

/// Versions read back oldest first, a taken `(id, created_at)` is a `Conflict`, and
/// `latest_documents` gives the newest version of each document, newest first.
pub async fn documents_keep_versions(db: Arc<dyn Database>) {
    let user = new_user(&*db).await;
    let id = DocumentId::new();
    let t = now() - Duration::minutes(1);
    let v1 = document_at(id, user.id, t, "one");
    let v2 = document_at(id, user.id, t + Duration::seconds(1), "two");
    db.insert_document(&v2).await.unwrap();
    db.insert_document(&v1).await.unwrap();
    assert!(matches!(db.insert_document(&v1).await, Err(Error::Conflict { .. })), "same (id, createdAt)");
    assert_eq!(db.document_versions(id).await.unwrap(), vec![v1, v2.clone()]);
    let other = document_at(DocumentId::new(), user.id, t + Duration::seconds(5), "other");
    db.insert_document(&other).await.unwrap();
    assert_eq!(db.latest_documents(user.id).await.unwrap(), vec![other, v2], "latest of each, newest first");
    assert!(db.latest_documents(UserId::new()).await.unwrap().is_empty());
}

/// `delete_versions_after` returns and removes the later versions with their suggestions; a
/// suggestion resolves once, and a removed one is `NotFound`.
pub async fn deleting_later_versions_removes_their_suggestions(db: Arc<dyn Database>) {
    let user = new_user(&*db).await;
    let id = DocumentId::new();
    let t = now() - Duration::minutes(1);
    let versions: Vec<_> =
        (0..3).map(|i| document_at(id, user.id, t + Duration::seconds(i), &format!("v{i}"))).collect();
    for v in &versions {
        db.insert_document(v).await.unwrap();
    }
    let kept = suggestion_for(&versions[0]);
    let dropped = suggestion_for(&versions[2]);
    db.insert_suggestions(&[kept.clone(), dropped.clone()]).await.unwrap();
    let removed = db.delete_versions_after(id, versions[0].created_at).await.unwrap();
    assert_eq!(removed, versions[1..].to_vec());
    assert_eq!(db.document_versions(id).await.unwrap(), versions[..1].to_vec());
    assert_eq!(db.suggestions(id).await.unwrap(), vec![kept.clone()]);
    assert_eq!(db.suggestion(dropped.id).await.unwrap(), None);
    db.resolve_suggestion(kept.id).await.unwrap();
    assert!(db.suggestion(kept.id).await.unwrap().unwrap().is_resolved);
    assert!(matches!(db.resolve_suggestion(dropped.id).await, Err(Error::NotFound { .. })));
}

/// A batch of suggestions with one for a version that does not exist is `NotFound` and stores none.
pub async fn suggestions_need_an_existing_version(db: Arc<dyn Database>) {
    let user = new_user(&*db).await;
    let doc = document_at(DocumentId::new(), user.id, now(), "text");
    db.insert_document(&doc).await.unwrap();
    let good = suggestion_for(&doc);
    let mut bad = suggestion_for(&doc);
    bad.document_created_at = doc.created_at + Duration::seconds(1);
    assert!(matches!(db.insert_suggestions(&[good.clone(), bad]).await, Err(Error::NotFound { .. })));
    assert_eq!(db.suggestion(good.id).await.unwrap(), None, "all or nothing");
}

/// File metadata reads back as stored, conflicts on a taken id, needs an existing chat, outlives
/// its chat (detached), and deletes once.
pub async fn files_round_trip_and_detach_from_deleted_chats(db: Arc<dyn Database>) {
    let user = new_user(&*db).await;
    let chat = new_chat(&*db, user.id).await;
    let loose = file_for(user.id, None);
    let attached = file_for(user.id, Some(chat.id));
    db.insert_file(&loose).await.unwrap();
    db.insert_file(&attached).await.unwrap();
    assert!(matches!(db.insert_file(&loose).await, Err(Error::Conflict { .. })));
    assert!(matches!(db.insert_file(&file_for(user.id, Some(ChatId::new()))).await, Err(Error::NotFound { .. })));
    assert_eq!(db.file(attached.id).await.unwrap(), Some(attached.clone()));
    assert_eq!(db.files_of(user.id).await.unwrap().len(), 2);
    db.delete_chat(chat.id).await.unwrap();
    let detached = db.file(attached.id).await.unwrap().expect("the file outlives the chat");
    assert_eq!(detached.chat_id, None);
    db.delete_file(loose.id).await.unwrap();
    assert_eq!(db.file(loose.id).await.unwrap(), None);
    assert!(matches!(db.delete_file(loose.id).await, Err(Error::NotFound { .. })));
}
