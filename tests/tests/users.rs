//! The caller's own account: read, change, delete.

use alleato_e2e::{PNG, TestApp, assert_api_error, uuid_like};
use alleato_sdk::api::{SaveDocumentRequest, UpdateUserRequest, UserKind};

#[tokio::test]
async fn users_me_reads_and_changes_the_account() {
    let app = TestApp::spawn().await;
    let (ada, session) = app.user().await;
    let response = ada.request(reqwest::Method::GET, "/api/v1/users/me").send().await.unwrap();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["user"]["id"], session.user.id.to_string());

    let new_email = format!("new-{}@example.com", uuid_like());
    let user =
        ada.update_me(&UpdateUserRequest { email: Some(new_email.clone()), ..Default::default() }).await.unwrap();
    assert_eq!(user.email, new_email);
    app.client.login(&new_email, "correct horse battery").await.expect("the new email logs in");
    assert_api_error(app.client.login(&session.user.email, "correct horse battery").await, 401, "unauthorized:auth");

    let change = UpdateUserRequest {
        password: Some("a brand new password".into()),
        current_password: Some("correct horse battery".into()),
        ..Default::default()
    };
    ada.update_me(&change).await.unwrap();
    app.client.login(&new_email, "a brand new password").await.expect("the new password logs in");
}

#[tokio::test]
async fn an_email_in_use_cannot_be_taken_and_empty_updates_are_refused() {
    let app = TestApp::spawn().await;
    let (ada, _) = app.user().await;
    let (_, bob) = app.user().await;
    assert_api_error(
        ada.update_me(&UpdateUserRequest { email: Some(bob.user.email.clone()), ..Default::default() }).await,
        409,
        "conflict:user",
    );
    assert_api_error(ada.update_me(&UpdateUserRequest::default()).await, 400, "bad_request:user");
    let unknown_field = ada
        .request(reqwest::Method::PATCH, "/api/v1/users/me")
        .json(&serde_json::json!({"type": "regular"}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown_field.status(), 400, "fields that cannot be changed are refused, not ignored");
}

#[tokio::test]
async fn a_guest_becomes_regular_by_setting_email_and_password() {
    let app = TestApp::spawn().await;
    let (guest, _) = app.guest().await;
    let email = format!("upgraded-{}@example.com", uuid_like());
    assert_api_error(
        guest.update_me(&UpdateUserRequest { email: Some(email.clone()), ..Default::default() }).await,
        400,
        "bad_request:user",
    );
    let user = guest
        .update_me(&UpdateUserRequest {
            email: Some(email.clone()),
            password: Some("correct horse battery".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(user.kind, UserKind::Regular);
    app.client.login(&email, "correct horse battery").await.unwrap();
}

#[tokio::test]
async fn deleting_the_account_deletes_its_data_and_stored_bytes() {
    let app = TestApp::spawn().await;
    let (ada, session) = app.user().await;
    let (bob, _) = app.user().await;
    let chat = ada.create_chat(&Default::default()).await.unwrap();
    let messages = app.seed_messages(chat.id, 2).await;
    ada.vote(chat.id, messages[1].id, alleato_sdk::api::VoteType::Up).await.unwrap();
    let doc = ada
        .save_document(&SaveDocumentRequest {
            id: None,
            title: "Doc".into(),
            kind: Default::default(),
            content: "x".into(),
        })
        .await
        .unwrap();
    let file = ada.upload_file("a.png", "image/png", PNG, Some(chat.id)).await.unwrap();
    let bob_chat = bob.create_chat(&Default::default()).await.unwrap();
    let before = app.client.admin_stats("test-admin-key").await.unwrap();

    let object = format!("files/{}/{}", session.user.id, file.id);
    assert!(app.stored_objects().await.contains(&object), "the upload is stored at {object}");
    assert!(ada.delete_me().await.unwrap().success);

    assert!(!app.stored_objects().await.contains(&object), "the stored bytes are gone");
    assert_api_error(ada.me().await, 401, "unauthorized:auth");
    let after = app.client.admin_stats("test-admin-key").await.unwrap();
    assert_eq!(after.users, before.users - 1);
    assert_eq!(after.chats, before.chats - 1);
    assert_eq!(after.messages, before.messages - 2);
    assert_eq!(after.documents, before.documents - 1);
    assert_eq!(after.files, before.files - 1);
    assert!(app.database().await.documents.document_versions(doc.id).await.unwrap().is_empty());
    assert_eq!(bob.get_chat(bob_chat.id).await.unwrap().chat.id, bob_chat.id, "others are untouched");
    assert_api_error(app.client.login(&session.user.email, "correct horse battery").await, 401, "unauthorized:auth");
}
