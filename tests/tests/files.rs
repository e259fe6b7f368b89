//! Uploads: content-checked, size-limited, stored in two places and never half.

use alleato_e2e::{PDF, PNG, TestApp, assert_api_error, test_config};

#[tokio::test]
async fn upload_read_download_delete() {
    let app = TestApp::spawn().await;
    let (ada, _) = app.user().await;
    let response = ada
        .request(reqwest::Method::POST, "/api/v1/files/upload")
        .multipart(reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(PNG.to_vec()).file_name("../../etc/cat.png").mime_str("image/png").unwrap(),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let file: alleato_sdk::api::FileView = response.json().await.unwrap();
    assert_eq!((file.name.as_str(), file.size, file.content_type.as_str()), ("cat.png", PNG.len() as u64, "image/png"));
    assert_eq!(file.url, format!("/api/v1/files/{}/content", file.id));
    let shown = ada.file(file.id).await.unwrap();
    assert_eq!(shown.clone().with_download_url(None), file.clone().with_download_url(None));

    // Where the storage signs URLs (S3, R2), the metadata carries one that fetches the bytes
    // without credentials; local storage offers none (the content route serves the bytes).
    if alleato_e2e::stack_storage() == "s3" {
        for view in [&file, &shown] {
            let url = view.download_url.as_deref().expect("S3 storage offers a signed URL");
            let expires = view.download_url_expires_at.expect("with its expiry");
            let left = (expires - alleato_core::time::now()).num_seconds();
            assert!((240..=300).contains(&left), "valid for the configured 300 s: {left} s left");
            let direct = reqwest::get(url).await.unwrap();
            assert_eq!(direct.status(), 200);
            assert_eq!(direct.headers()["content-type"], "image/png");
            assert_eq!(&direct.bytes().await.unwrap()[..], PNG);
        }
    } else {
        assert_eq!((file.download_url.as_deref(), shown.download_url.as_deref()), (None, None));
    }

    let content = ada.request(reqwest::Method::GET, &file.url).send().await.unwrap();
    assert_eq!(content.status(), 200);
    assert_eq!(content.headers()["content-type"], "image/png");
    assert_eq!(content.headers()["x-content-type-options"], "nosniff");
    assert!(content.headers()["content-disposition"].to_str().unwrap().contains("cat.png"));
    assert_eq!(&content.bytes().await.unwrap()[..], PNG);

    let pdf = ada.upload_file("paper.pdf", "application/pdf", PDF, None).await.unwrap();
    assert_eq!(ada.file_content(pdf.id).await.unwrap(), ("application/pdf".to_owned(), PDF.into()));

    assert!(ada.delete_file(file.id).await.unwrap().success);
    assert_api_error(ada.file(file.id).await, 404, "not_found:file");
    assert_api_error(ada.file_content(file.id).await, 404, "not_found:file");
    assert_api_error(ada.delete_file(file.id).await, 404, "not_found:file");
    let objects = app.stored_objects().await;
    assert_eq!(objects.len(), 1, "only the PDF's bytes remain: {objects:?}");
}

#[tokio::test]
async fn the_content_decides_the_type() {
    let app = TestApp::spawn().await;
    let (ada, _) = app.user().await;
    assert_api_error(
        ada.upload_file("evil.png", "image/png", &b"<script>alert(1)</script>"[..], None).await,
        415,
        "unsupported_media_type:file",
    );
    assert_api_error(
        ada.upload_file("a.exe", "application/octet-stream", &b"MZ\x90\x00\x03\x00"[..], None).await,
        415,
        "unsupported_media_type:file",
    );
    assert_api_error(
        ada.upload_file("mislabelled.png", "image/png", PDF, None).await,
        415,
        "unsupported_media_type:file",
    );
    let sniffed = ada.upload_file("blob", "application/octet-stream", PNG, None).await.unwrap();
    assert_eq!(sniffed.content_type, "image/png", "an unknown declared type is decided by content");
    assert_api_error(ada.upload_file("empty.png", "image/png", &b""[..], None).await, 400, "bad_request:file");
    assert_eq!(app.stored_objects().await.len(), 1, "rejected uploads leave no bytes behind");
}

#[tokio::test]
async fn the_size_limit_is_enforced_with_413() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path().to_path_buf());
    config.max_upload_bytes = 1024;
    let app = TestApp::spawn_with(config, Some(dir)).await;
    let (ada, _) = app.user().await;
    let mut big = PNG.to_vec();
    big.resize(1025, 0);
    assert_api_error(ada.upload_file("big.png", "image/png", big.clone(), None).await, 413, "payload_too_large:file");
    big.resize(200 * 1024, 0);
    let err = ada.upload_file("bigger.png", "image/png", big, None).await.unwrap_err();
    assert_eq!(err.status(), Some(413), "{err}");
    let mut fits = PNG.to_vec();
    fits.resize(1024, 0);
    ada.upload_file("fits.png", "image/png", fits, None).await.unwrap();
}

#[tokio::test]
async fn malformed_uploads_are_rejected() {
    let app = TestApp::spawn().await;
    let (ada, _) = app.user().await;
    let not_multipart = ada
        .request(reqwest::Method::POST, "/api/v1/files/upload")
        .json(&serde_json::json!({"file": "data"}))
        .send()
        .await
        .unwrap();
    assert_eq!(not_multipart.status(), 400);
    let no_file = ada
        .request(reqwest::Method::POST, "/api/v1/files/upload")
        .multipart(reqwest::multipart::Form::new().text("other", "x"))
        .send()
        .await
        .unwrap();
    assert_eq!(no_file.status(), 400);
    let body: serde_json::Value = no_file.json().await.unwrap();
    assert_eq!(body["code"], "bad_request:file");
    let bad_chat = ada
        .request(reqwest::Method::POST, "/api/v1/files/upload")
        .multipart(
            reqwest::multipart::Form::new()
                .text("chatId", "not-a-uuid")
                .part("file", reqwest::multipart::Part::bytes(PNG.to_vec()).file_name("a.png")),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(bad_chat.status(), 400);
    let unauthenticated = app.client.upload_file("a.png", "image/png", PNG, None).await;
    assert_api_error(unauthenticated, 401, "unauthorized:auth");
    assert!(app.stored_objects().await.is_empty());
}

/// With `R2_PUBLIC_URL` (the bucket served publicly), a file in a public chat links to its
/// permanent public address, with no expiry; a private file gets no direct link at all, since a
/// signed one would show the key the public address serves forever. The content route serves
/// both to whoever may read them.
#[tokio::test]
async fn a_public_r2_bucket_links_public_files_only() {
    use alleato_sdk::api::{CreateChatRequest, UpdateChatRequest, Visibility};
    use alleato_server::config::Secret;
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path().to_path_buf());
    let prefix = format!("e2e-public-{}", alleato_e2e::uuid_like());
    let cf = &mut config.cloudflare;
    cf.use_cloudflare_storage = Some(true);
    cf.r2_bucket = Some("alleato-test".into());
    cf.r2_endpoint = Some(alleato_e2e::s3_endpoint());
    cf.r2_access_key_id = Some(Secret::new("AKTEST"));
    cf.r2_secret_access_key = Some(Secret::new("SKTEST"));
    cf.r2_public_url = Some("https://files.example.com/".into());
    config.storage.s3_prefix = Some(prefix.clone());
    let app = TestApp::spawn_with(config, Some(dir)).await;
    let (ada, session) = app.user().await;
    let chat = ada.create_chat(&CreateChatRequest::default()).await.unwrap();
    let attached = ada.upload_file("cat.png", "image/png", PNG, Some(chat.id)).await.unwrap();
    let loose = ada.upload_file("dog.png", "image/png", PNG, None).await.unwrap();
    for file in [&attached, &loose] {
        let shown = ada.file(file.id).await.unwrap();
        assert_eq!((shown.download_url, shown.download_url_expires_at), (None, None), "private: no direct link");
    }

    ada.update_chat(chat.id, &UpdateChatRequest { visibility: Some(Visibility::Public), title: None }).await.unwrap();
    let (bob, _) = app.user().await;
    for viewer in [&ada, &bob] {
        let shown = viewer.file(attached.id).await.unwrap();
        let expected = format!("https://files.example.com/{prefix}/files/{}/{}", session.user.id, attached.id);
        assert_eq!(shown.download_url.as_deref(), Some(expected.as_str()));
        assert_eq!(shown.download_url_expires_at, None, "a public address does not expire");
        assert_eq!(viewer.file_content(attached.id).await.unwrap().1, PNG);
    }
    assert!(ada.file(loose.id).await.unwrap().download_url.is_none(), "still private");
}
