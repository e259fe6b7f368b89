//! One user must never read, change or delete another's private data; public chats are
//! readable by others, never writable.

use alleato_e2e::{PNG, TestApp, assert_api_error};
use alleato_sdk::ListChats;
use alleato_sdk::api::{
    CreateChatRequest, SaveDocumentRequest, SuggestionInput, UpdateChatRequest, Visibility, VoteType,
};

#[tokio::test]
async fn a_private_chat_is_invisible_to_others() {
    let app = TestApp::spawn().await;
    let (ada, _) = app.user().await;
    let (bob, _) = app.user().await;
    let chat = ada.create_chat(&Default::default()).await.unwrap();
    let messages = app.seed_messages(chat.id, 2).await;

    assert_api_error(bob.get_chat(chat.id).await, 404, "not_found:chat");
    assert_api_error(bob.votes(chat.id).await, 404, "not_found:chat");
    assert_api_error(
        bob.update_chat(chat.id, &UpdateChatRequest { title: Some("mine now".into()), visibility: None }).await,
        404,
        "not_found:chat",
    );
    assert_api_error(bob.delete_chat(chat.id).await, 404, "not_found:chat");
    assert_api_error(bob.vote(chat.id, messages[1].id, VoteType::Down).await, 404, "not_found:chat");
    assert!(bob.list_chats(&ListChats::default()).await.unwrap().chats.is_empty());
    assert_eq!(bob.delete_all_chats().await.unwrap(), 0);

    let after = ada.get_chat(chat.id).await.unwrap();
    assert_eq!(after.chat, chat, "nothing changed");
    assert_eq!(after.messages.len(), 2);
    assert!(ada.votes(chat.id).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_public_chat_is_readable_but_never_writable_by_others() {
    let app = TestApp::spawn().await;
    let (ada, _) = app.user().await;
    let (bob, _) = app.user().await;
    let chat = ada
        .create_chat(&CreateChatRequest { visibility: Some(Visibility::Public), ..Default::default() })
        .await
        .unwrap();
    let messages = app.seed_messages(chat.id, 2).await;
    ada.vote(chat.id, messages[1].id, VoteType::Up).await.unwrap();

    let read = bob.get_chat(chat.id).await.unwrap();
    assert_eq!(read.messages.len(), 2);
    assert_eq!(bob.votes(chat.id).await.unwrap().len(), 1);

    assert_api_error(
        bob.update_chat(chat.id, &UpdateChatRequest { visibility: Some(Visibility::Private), title: None }).await,
        403,
        "forbidden:chat",
    );
    assert_api_error(bob.delete_chat(chat.id).await, 403, "forbidden:chat");
    assert_api_error(bob.vote(chat.id, messages[1].id, VoteType::Down).await, 403, "forbidden:vote");
    assert!(ada.votes(chat.id).await.unwrap()[0].is_upvoted, "the owner's vote stands");
    assert!(bob.list_chats(&ListChats::default()).await.unwrap().chats.is_empty(), "not in others' lists");

    ada.update_chat(chat.id, &UpdateChatRequest { visibility: Some(Visibility::Private), title: None }).await.unwrap();
    assert_api_error(bob.get_chat(chat.id).await, 404, "not_found:chat");
}

#[tokio::test]
async fn documents_are_private_to_their_owner() {
    let app = TestApp::spawn().await;
    let (ada, _) = app.user().await;
    let (bob, _) = app.user().await;
    let doc = ada
        .save_document(&SaveDocumentRequest {
            id: None,
            title: "Secret".into(),
            kind: Default::default(),
            content: "a".into(),
        })
        .await
        .unwrap();
    let suggestion = ada
        .add_suggestions(
            doc.id,
            vec![SuggestionInput { original_text: "a".into(), suggested_text: "b".into(), description: None }],
        )
        .await
        .unwrap()
        .remove(0);

    assert_api_error(bob.document_versions(doc.id).await, 404, "not_found:document");
    assert_api_error(
        bob.save_document(&SaveDocumentRequest {
            id: Some(doc.id),
            title: "Hijack".into(),
            kind: Default::default(),
            content: "b".into(),
        })
        .await,
        404,
        "not_found:document",
    );
    assert_api_error(
        bob.delete_document_versions_after(doc.id, "2000-01-01T00:00:00Z").await,
        404,
        "not_found:document",
    );
    assert_api_error(bob.suggestions(doc.id).await, 404, "not_found:document");
    assert_api_error(
        bob.add_suggestions(
            doc.id,
            vec![SuggestionInput { original_text: "a".into(), suggested_text: "c".into(), description: None }],
        )
        .await,
        404,
        "not_found:document",
    );
    assert_api_error(bob.resolve_suggestion(doc.id, suggestion.id).await, 404, "not_found:document");
    assert!(bob.documents().await.unwrap().is_empty());

    assert_eq!(ada.document_versions(doc.id).await.unwrap(), vec![doc], "nothing changed");
    let suggestions = ada.suggestions(ada.documents().await.unwrap()[0].id).await.unwrap();
    assert_eq!(suggestions.len(), 1);
    assert!(!suggestions[0].is_resolved);
}

#[tokio::test]
async fn files_are_private_unless_attached_to_a_public_chat() {
    let app = TestApp::spawn().await;
    let (ada, _) = app.user().await;
    let (bob, _) = app.user().await;
    let private_chat = ada.create_chat(&Default::default()).await.unwrap();
    let public_chat = ada
        .create_chat(&CreateChatRequest { visibility: Some(Visibility::Public), ..Default::default() })
        .await
        .unwrap();
    let loose = ada.upload_file("loose.png", "image/png", PNG, None).await.unwrap();
    let hidden = ada.upload_file("hidden.png", "image/png", PNG, Some(private_chat.id)).await.unwrap();
    let shared = ada.upload_file("shared.png", "image/png", PNG, Some(public_chat.id)).await.unwrap();

    for file in [&loose, &hidden] {
        assert_api_error(bob.file(file.id).await, 404, "not_found:file");
        assert_api_error(bob.file_content(file.id).await, 404, "not_found:file");
    }
    assert_eq!(bob.file(shared.id).await.unwrap().id, shared.id);
    assert_eq!(&bob.file_content(shared.id).await.unwrap().1[..], PNG);
    for file in [&loose, &hidden, &shared] {
        assert_api_error(bob.delete_file(file.id).await, 404, "not_found:file");
        assert_eq!(ada.file(file.id).await.unwrap().id, file.id, "still there");
    }
    assert_api_error(bob.upload_file("x.png", "image/png", PNG, Some(private_chat.id)).await, 404, "not_found:chat");
    assert_api_error(bob.upload_file("x.png", "image/png", PNG, Some(public_chat.id)).await, 403, "forbidden:chat");
}
