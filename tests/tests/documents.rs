//! Versioned documents and suggestions.

use alleato_e2e::{TestApp, assert_api_error};
use alleato_sdk::api::{DocumentKind, SaveDocumentRequest, SuggestionInput};

fn save(id: Option<alleato_sdk::api::DocumentId>, content: &str) -> SaveDocumentRequest {
    SaveDocumentRequest { id, title: "Essay".into(), kind: DocumentKind::Code, content: content.into() }
}

#[tokio::test]
async fn saving_adds_versions_and_listing_shows_the_latest() {
    let app = TestApp::spawn().await;
    let (ada, session) = app.user().await;
    let response =
        ada.request(reqwest::Method::POST, "/api/v1/documents").json(&save(None, "v1")).send().await.unwrap();
    assert_eq!(response.status(), 201);
    let v1: alleato_sdk::api::DocumentResponse = response.json().await.unwrap();
    let v1 = v1.document;
    assert_eq!((v1.kind, v1.content.as_deref(), v1.user_id), (DocumentKind::Code, Some("v1"), session.user.id));
    let v2 = ada.save_document(&save(Some(v1.id), "v2")).await.unwrap();
    let v3 = ada.save_document(&save(Some(v1.id), "v3")).await.unwrap();
    let other = ada.save_document(&save(None, "other")).await.unwrap();
    assert_eq!(ada.document_versions(v1.id).await.unwrap(), vec![v1.clone(), v2.clone(), v3.clone()]);
    assert_eq!(ada.documents().await.unwrap(), vec![other, v3], "the latest version of each, newest first");
}

#[tokio::test]
async fn restoring_deletes_later_versions_and_their_suggestions() {
    let app = TestApp::spawn().await;
    let (ada, _) = app.user().await;
    let v1 = ada.save_document(&save(None, "v1")).await.unwrap();
    let kept = ada
        .add_suggestions(
            v1.id,
            vec![SuggestionInput { original_text: "v1".into(), suggested_text: "V1".into(), description: None }],
        )
        .await
        .unwrap();
    let v2 = ada.save_document(&save(Some(v1.id), "v2")).await.unwrap();
    let v3 = ada.save_document(&save(Some(v1.id), "v3")).await.unwrap();
    ada.add_suggestions(
        v1.id,
        vec![SuggestionInput {
            original_text: "v3".into(),
            suggested_text: "V3".into(),
            description: Some("caps".into()),
        }],
    )
    .await
    .unwrap();
    assert_eq!(ada.suggestions(v1.id).await.unwrap().len(), 2);

    let deleted = ada.delete_document_versions_after(v1.id, &v1.created_at.to_rfc3339()).await.unwrap();
    assert_eq!(deleted, vec![v2, v3]);
    assert_eq!(ada.document_versions(v1.id).await.unwrap(), vec![v1.clone()]);
    assert_eq!(ada.suggestions(v1.id).await.unwrap(), kept, "only the suggestion on the kept version remains");

    // `after` is not taken where the whole document goes: an old client gets a 400, not a loss.
    let old_style = ada
        .request(reqwest::Method::DELETE, &format!("/api/v1/documents/{}", v1.id))
        .query(&[("after", v1.created_at.to_rfc3339())])
        .send()
        .await
        .unwrap();
    assert_eq!(old_style.status(), 400);
    // Nor does deleting versions delete the document: a time before the first is a conflict.
    let before_first = (v1.created_at - chrono::Duration::seconds(1)).to_rfc3339();
    assert_api_error(ada.delete_document_versions_after(v1.id, &before_first).await, 409, "conflict:document");
    assert_eq!(ada.document_versions(v1.id).await.unwrap(), vec![v1.clone()], "still there");
}

#[tokio::test]
async fn deleting_a_document_deletes_every_version_and_its_suggestions() {
    let app = TestApp::spawn().await;
    let (ada, _) = app.user().await;
    let (bob, _) = app.user().await;
    let v1 = ada.save_document(&save(None, "first")).await.unwrap();
    let v2 = ada.save_document(&save(Some(v1.id), "second")).await.unwrap();
    let suggestion =
        SuggestionInput { original_text: "second".into(), suggested_text: "2nd".into(), description: None };
    ada.add_suggestions(v1.id, vec![suggestion]).await.unwrap();
    let other = ada.save_document(&save(None, "kept")).await.unwrap();

    assert_api_error(bob.delete_document(v1.id).await, 404, "not_found:document");
    assert_eq!(ada.delete_document(v1.id).await.unwrap(), vec![v1.clone(), v2]);
    assert_api_error(ada.document_versions(v1.id).await, 404, "not_found:document");
    assert_api_error(ada.suggestions(v1.id).await, 404, "not_found:document");
    assert_api_error(ada.delete_document(v1.id).await, 404, "not_found:document");
    let left: Vec<_> = ada.documents().await.unwrap().into_iter().map(|d| d.id).collect();
    assert_eq!(left, vec![other.id], "only that document went");
}

#[tokio::test]
async fn suggestions_are_added_listed_and_resolved() {
    let app = TestApp::spawn().await;
    let (ada, _) = app.user().await;
    let doc = ada.save_document(&save(None, "teh text")).await.unwrap();
    let single = ada
        .request(reqwest::Method::POST, &format!("/api/v1/documents/{}/suggestions", doc.id))
        .json(&serde_json::json!({"originalText": "teh", "suggestedText": "the", "description": "typo"}))
        .send()
        .await
        .unwrap();
    assert_eq!(single.status(), 201, "a single suggestion is accepted as well as a list");
    let listed = ada.suggestions(doc.id).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].document_created_at, doc.created_at, "tied to the latest version");
    let resolved = ada.resolve_suggestion(doc.id, listed[0].id).await.unwrap();
    assert!(resolved.is_resolved);
    assert!(ada.suggestions(doc.id).await.unwrap()[0].is_resolved);
    let other = ada.save_document(&save(None, "other")).await.unwrap();
    assert_api_error(ada.resolve_suggestion(other.id, listed[0].id).await, 404, "not_found:suggestions");
    assert_api_error(
        ada.resolve_suggestion(doc.id, alleato_sdk::api::SuggestionId::new()).await,
        404,
        "not_found:suggestions",
    );
}

#[tokio::test]
async fn bad_document_input_is_rejected() {
    let app = TestApp::spawn().await;
    let (ada, _) = app.user().await;
    let doc = ada.save_document(&save(None, "x")).await.unwrap();
    let post = |body: serde_json::Value| ada.request(reqwest::Method::POST, "/api/v1/documents").json(&body).send();
    for (body, code) in [
        (serde_json::json!({"title": "t", "kind": "spreadsheet", "content": "x"}), "bad_request:api"),
        (serde_json::json!({"title": "t"}), "bad_request:api"),
        (serde_json::json!({"title": "   ", "content": "x"}), "bad_request:document"),
        (serde_json::json!({"title": "t", "content": 5}), "bad_request:api"),
        (serde_json::json!({"id": "nope", "title": "t", "content": "x"}), "bad_request:api"),
    ] {
        let response = post(body.clone()).await.unwrap();
        assert_eq!(response.status(), 400, "{body}");
        let err: serde_json::Value = response.json().await.unwrap();
        assert_eq!(err["code"], code, "{body}");
    }
    let too_big = ada
        .request(reqwest::Method::POST, "/api/v1/documents")
        .json(&serde_json::json!({"title": "t", "content": "x".repeat(2 * 1024 * 1024)}))
        .send()
        .await
        .unwrap();
    assert_eq!(too_big.status(), 413);
    for query in ["", "?after=yesterday", "?after=2026-13-01T00:00:00Z"] {
        let response = ada
            .request(reqwest::Method::DELETE, &format!("/api/v1/documents/{}/versions{query}", doc.id))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{query:?}");
    }
    assert_api_error(ada.document_versions(alleato_sdk::api::DocumentId::new()).await, 404, "not_found:document");
    assert_api_error(ada.add_suggestions(doc.id, vec![]).await, 400, "bad_request:suggestions");
}
