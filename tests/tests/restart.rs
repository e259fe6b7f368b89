//! Everything a user has survives a restart of the server: account, session, chats, messages,
//! votes, documents and files.

use alleato_e2e::{PNG, TestApp};
use alleato_sdk::api::{CreateChatRequest, SaveDocumentRequest, VoteType};

#[tokio::test]
async fn data_and_sessions_survive_a_restart() {
    let app = TestApp::spawn().await;
    let email = format!("restart-{}@example.com", alleato_e2e::uuid_like());
    let session = app.client.register(&email, "correct horse battery").await.unwrap();
    let ada = app.client.with_token(&session.token);
    let chat = ada.create_chat(&CreateChatRequest { title: Some("Kept".into()), ..Default::default() }).await.unwrap();
    let messages = app.seed_messages(chat.id, 2).await;
    ada.vote(chat.id, messages[1].id, VoteType::Up).await.unwrap();
    let doc = ada
        .save_document(&SaveDocumentRequest {
            id: None,
            title: "Doc".into(),
            kind: Default::default(),
            content: "c".into(),
        })
        .await
        .unwrap();
    let file = ada.upload_file("kept.png", "image/png", PNG, Some(chat.id)).await.unwrap();
    let old_addr = app.server.addr;

    let app = app.restart().await;
    assert_ne!(app.server.addr, old_addr, "a new process-equivalent on a new port");
    let ada = app.client.with_token(&session.token);
    assert_eq!(ada.me().await.unwrap().id, session.user.id, "the session survived");
    let read = ada.get_chat(chat.id).await.unwrap();
    assert_eq!(read.chat, chat);
    assert_eq!(read.messages, messages);
    assert!(ada.votes(chat.id).await.unwrap()[0].is_upvoted);
    assert_eq!(ada.document_versions(doc.id).await.unwrap(), vec![doc]);
    assert_eq!(&ada.file_content(file.id).await.unwrap().1[..], PNG);
    app.client.login(&email, "correct horse battery").await.expect("the password still works");
}
