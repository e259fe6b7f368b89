//! Regression tests for what a hostile client found: quotas that could be given back or raced,
//! a background title write that reverted the owner's changes, ids that leaked across users,
//! and inputs that were accepted or answered badly. Each runs on every stack.

use std::time::Duration;

use alleato_e2e::{TestApp, assert_api_error, collect, test_config, wait_for_messages};
use alleato_sdk::api::{ChatId, CreateChatRequest, SaveDocumentRequest, UpdateChatRequest, Visibility};
use reqwest::Method;
use serde_json::json;

fn with_parts(parts: serde_json::Value) -> serde_json::Value {
    json!({"message": {"role": "user", "parts": parts}})
}

async fn quota_app(per_day: u32) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path().to_path_buf());
    config.chat.guest_messages_per_day = per_day;
    config.chat.regular_messages_per_day = per_day;
    TestApp::spawn_with(config, Some(dir)).await
}

#[tokio::test]
async fn deleting_chats_or_messages_and_resending_give_no_quota_back() {
    let app = quota_app(3).await;
    let (guest, _) = app.guest().await;
    let chat = ChatId::new();
    let ask = |id: &str, text: &str| json!({"message": {"id": id, "role": "user", "parts": [{"type": "text", "text": text}]}});
    collect(guest.send_message(chat, &ask("msg-1", "first")).await.unwrap()).await;
    wait_for_messages(&guest, chat, 2).await;
    // Re-sending the same id regenerates: a second generation, counted.
    collect(guest.send_message(chat, &ask("msg-1", "first, edited")).await.unwrap()).await;
    wait_for_messages(&guest, chat, 2).await;
    // Trimming messages and deleting every chat give nothing back.
    guest.delete_messages_after(chat, "msg-1").await.unwrap();
    guest.delete_all_chats().await.unwrap();
    let other = ChatId::new();
    collect(guest.send_text(other, "third").await.unwrap()).await;
    wait_for_messages(&guest, other, 2).await;
    guest.delete_chat(other).await.unwrap();

    let refused = ChatId::new();
    assert_api_error(guest.send_text(refused, "fourth").await.map(drop), 429, "rate_limit:chat");
    // A refused send leaves nothing behind: no empty "New chat".
    assert_api_error(guest.get_chat(refused).await, 404, "not_found:chat");
    assert!(guest.list_chats(&Default::default()).await.unwrap().chats.is_empty());
}

#[tokio::test]
async fn concurrent_sends_never_pass_the_quota() {
    let app = quota_app(20).await;
    let (guest, _) = app.guest().await;
    let sends: Vec<_> = (0..60)
        .map(|i| {
            let guest = guest.clone();
            tokio::spawn(async move {
                let chat = ChatId::new();
                match guest.send_text(chat, &format!("message {i}")).await {
                    Ok(stream) => {
                        collect(stream).await;
                        Ok(())
                    }
                    Err(err) => Err(err),
                }
            })
        })
        .collect();
    let mut allowed = 0;
    for send in sends {
        match send.await.unwrap() {
            Ok(()) => allowed += 1,
            Err(err) => assert_api_error::<()>(Err(err), 429, "rate_limit:chat"),
        }
    }
    assert_eq!(allowed, 20, "exactly the quota gets through");
    // Only the chats that got a reply exist.
    let listed = guest.list_chats(&alleato_sdk::ListChats { limit: Some(100), ..Default::default() }).await;
    assert_eq!(listed.unwrap().chats.len(), 20);
}

#[tokio::test]
async fn the_background_title_never_reverts_the_owners_changes() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path().to_path_buf());
    // Slow enough that the owner's changes land while the title is being generated.
    config.ai.mock_chunk_delay_ms = 30;
    let app = TestApp::spawn_with(config, Some(dir)).await;
    let (ada, _) = app.user().await;

    // Made private during the first answer: stays private.
    let shared = ChatId::new();
    let body = json!({"message": {"role": "user", "parts": [{"type": "text", "text": "Plan a trip to Lisbon"}]}, "visibility": "public"});
    let stream = ada.send_message(shared, &body).await.unwrap();
    let private = UpdateChatRequest { visibility: Some(Visibility::Private), ..Default::default() };
    ada.update_chat(shared, &private).await.unwrap();
    collect(stream).await;
    let chat = ada.get_chat(shared).await.unwrap().chat;
    assert_eq!(chat.visibility, Visibility::Private);
    assert_eq!(chat.title, "Plan a trip to Lisbon", "the title alone was set");

    // Renamed during the first answer: the owner's name stays, and no other title is announced.
    let renamed = ChatId::new();
    let stream = ada.send_text(renamed, "Explain how tides work").await.unwrap();
    let rename = UpdateChatRequest { title: Some("My tides".into()), ..Default::default() };
    ada.update_chat(renamed, &rename).await.unwrap();
    let chunks = collect(stream).await;
    assert_eq!(ada.get_chat(renamed).await.unwrap().chat.title, "My tides");
    assert!(chunks.iter().all(|c| c.json().is_none_or(|j| j["type"] != "data-chat-title")));
}

#[tokio::test]
async fn client_message_ids_belong_to_their_chat() {
    let app = TestApp::spawn().await;
    let (ada, _) = app.user().await;
    let (bob, _) = app.user().await;
    let ask = |id: &str| json!({"message": {"id": id, "role": "user", "parts": [{"type": "text", "text": "hello"}]}});
    let (first, second, bobs) = (ChatId::new(), ChatId::new(), ChatId::new());
    collect(ada.send_message(first, &ask("msg-1")).await.unwrap()).await;
    // The same client id in another chat, the owner's or anyone's, is another message.
    collect(ada.send_message(second, &ask("msg-1")).await.unwrap()).await;
    collect(bob.send_message(bobs, &ask("msg-1")).await.unwrap()).await;
    // Another user's message UUID is answered as if it were free: nothing says it exists.
    let adas_message = wait_for_messages(&ada, first, 2).await[0].id.to_string();
    let theirs = ChatId::new();
    collect(bob.send_message(theirs, &ask(&adas_message)).await.unwrap()).await;
    let stored = wait_for_messages(&bob, theirs, 2).await;
    assert_ne!(stored[0].id.to_string(), adas_message);
    assert_eq!(wait_for_messages(&ada, first, 2).await.len(), 2, "Ada's chat is untouched");
}

#[tokio::test]
async fn every_part_counts_and_file_parts_point_only_where_it_is_safe() {
    let app = TestApp::spawn().await;
    let (ada, _) = app.user().await;
    let send = |body: serde_json::Value| {
        let ada = ada.clone();
        async move { ada.send_message(ChatId::new(), &body).await.map(drop) }
    };
    let huge_reasoning = with_parts(json!([
        {"type": "text", "text": "hi"},
        {"type": "reasoning", "text": "x".repeat(500_000)}
    ]));
    assert_api_error(send(huge_reasoning).await, 400, "bad_request:chat");
    let huge_data =
        with_parts(json!([{"type": "text", "text": "hi"}, {"type": "data-note", "data": "y".repeat(40_000)}]));
    assert_api_error(send(huge_data).await, 400, "bad_request:chat");
    for url in ["javascript:alert(1)", "data:text/html;base64,PHNjcmlwdD4=", "file:///etc/passwd"] {
        let file = with_parts(json!([{"type": "file", "mediaType": "image/png", "url": url}]));
        assert_api_error(send(file).await, 400, "bad_request:message");
    }
    let fine = with_parts(json!([
        {"type": "text", "text": "what is in this picture?"},
        {"type": "file", "mediaType": "image/png", "url": "https://example.com/cat.png"}
    ]));
    send(fine).await.unwrap();
}

#[tokio::test]
async fn bad_bytes_in_a_path_id_get_the_json_error() {
    let app = TestApp::spawn().await;
    let (ada, _) = app.user().await;
    for path in ["/api/v1/chats/%FF%FE", "/api/v1/documents/%C3%28", "/api/v1/files/%FF", "/api/v1/streams/%80"] {
        let response = ada.request(Method::GET, path).send().await.unwrap();
        assert_eq!(response.status(), 400, "{path}");
        assert_eq!(response.headers()["content-type"], "application/json", "{path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["code"], "bad_request:api", "{path}");
    }
}

#[tokio::test]
async fn a_body_that_is_there_must_be_an_object_and_a_cursor_must_be_an_id() {
    let app = TestApp::spawn().await;
    let (ada, _) = app.user().await;
    for body in ["null", " null ", "[]", "[null]", "42", "\"chat\"", "true"] {
        let response = ada
            .request(Method::POST, "/api/v1/chats")
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{body}");
        let error: serde_json::Value = response.json().await.unwrap();
        assert_eq!(error["code"], "bad_request:api", "{body}");
    }
    assert!(ada.list_chats(&Default::default()).await.unwrap().chats.is_empty(), "no chat was made");
    // No body at all is still a private "New chat".
    let response = ada.request(Method::POST, "/api/v1/chats").send().await.unwrap();
    assert_eq!(response.status(), 201);

    let real = ada.list_chats(&Default::default()).await.unwrap().chats[0].id.to_string();
    let malformed = [
        real[..35].to_owned(),
        format!("{real}0"),
        real.replace('-', "g"),
        real.replace('-', ""),
        format!("{{{}}}", &real[..34]),
        "x".repeat(35),
        "é".repeat(18),
        String::new(),
    ];
    for cursor in &malformed {
        for name in ["starting_after", "ending_before"] {
            let response = ada.request(Method::GET, "/api/v1/chats").query(&[(name, cursor)]).send().await.unwrap();
            assert_eq!(response.status(), 400, "{name}={cursor}");
            let error: serde_json::Value = response.json().await.unwrap();
            assert_eq!(error["code"], "bad_request:api", "{name}={cursor}");
        }
    }
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let app = TestApp::spawn().await;
    let (_, session) = app.user().await;
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let response = reqwest::Client::new()
            .get(app.url("/api/v1/auth/me"))
            .header("authorization", format!("{scheme} {}", session.token))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{scheme}");
    }
    let basic = reqwest::Client::new()
        .get(app.url("/api/v1/auth/me"))
        .header("authorization", format!("Basic {}", session.token))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 401);
}

#[tokio::test]
async fn health_shows_data_paths_only_to_the_admin() {
    let app = TestApp::spawn().await;
    let dir = app.config.data_dir.to_string_lossy().into_owned();
    let public = app.client.request(Method::GET, "/health").send().await.unwrap().text().await.unwrap();
    assert!(!public.contains(&dir), "no data path in the public health: {public}");
    assert!(public.contains("\"database\""));
    let admin = app
        .client
        .request(Method::GET, "/health")
        .header("x-api-key", "test-admin-key")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    if alleato_e2e::stack_database() == "sqlite" {
        assert!(admin.contains(&dir), "the admin sees where the data is: {admin}");
    }
}

#[tokio::test]
async fn document_titles_refuse_control_characters() {
    let app = TestApp::spawn().await;
    let (ada, _) = app.user().await;
    for title in ["line\nbreak", "bell\u{7}", "escape\u{1b}[31m"] {
        let doc = SaveDocumentRequest { id: None, title: title.into(), kind: Default::default(), content: "x".into() };
        assert_api_error(ada.save_document(&doc).await, 400, "bad_request:document");
    }
}

#[cfg(unix)]
#[tokio::test]
async fn database_files_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    if alleato_e2e::stack_database() != "sqlite" {
        return;
    }
    let app = TestApp::spawn().await;
    let (ada, _) = app.user().await;
    ada.create_chat(&CreateChatRequest::default()).await.unwrap();
    let mut checked = 0;
    for entry in std::fs::read_dir(&app.config.data_dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.contains(".sqlite3") || name == "jwt_secret" {
            let mode = entry.metadata().unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{name} is {mode:o}");
            checked += 1;
        }
    }
    assert!(checked >= 3, "the database, its WAL and the secret at least: {checked}");
}

#[tokio::test]
async fn a_declared_oversize_body_is_refused_at_once() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn().await;
    let mut tcp = tokio::net::TcpStream::connect(app.server.addr).await.unwrap();
    let request = "POST /api/v1/documents HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\n\
                   content-length: 99999999999\r\n\r\n{";
    tcp.write_all(request.as_bytes()).await.unwrap();
    // Without the check, the server waits for the body until the 30 s request timeout.
    let mut answer = vec![0; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), tcp.read(&mut answer))
        .await
        .expect("an answer before the body arrives")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("payload_too_large:api"), "{answer}");
}

#[tokio::test]
async fn a_password_change_needs_the_current_one_and_ends_other_sessions() {
    let app = TestApp::spawn().await;
    let (ada, session) = app.user().await;
    let email = session.user.email.clone();
    let other_device = app.client.with_token(&app.client.login(&email, "correct horse battery").await.unwrap().token);
    let change = |current: Option<&str>| alleato_sdk::api::UpdateUserRequest {
        password: Some("a brand new password".into()),
        current_password: current.map(Into::into),
        ..Default::default()
    };
    assert_api_error(ada.update_me(&change(None)).await, 400, "bad_request:user");
    assert_api_error(ada.update_me(&change(Some("not the password"))).await, 403, "forbidden:user");
    other_device.me().await.expect("nothing changed yet");

    ada.update_me(&change(Some("correct horse battery"))).await.unwrap();
    ada.me().await.expect("the session that changed it stays");
    assert_api_error(other_device.me().await, 401, "unauthorized:auth");
    assert_api_error(app.client.login(&email, "correct horse battery").await, 401, "unauthorized:auth");
    let fresh = app.client.with_token(&app.client.login(&email, "a brand new password").await.unwrap().token);
    fresh.me().await.expect("a new sign-in works");
}

#[tokio::test]
async fn generic_streams_are_capped_per_user_and_per_stream_and_read_in_pages() {
    let app = TestApp::spawn().await;
    let (ada, _) = app.user().await;
    let mut ids = Vec::new();
    for _ in 0..64 {
        ids.push(ada.create_stream().await.unwrap());
    }
    assert_api_error(ada.create_stream().await, 429, "rate_limit:stream");
    let (bob, _) = app.user().await;
    bob.create_stream().await.expect("the cap is per user");

    // A stream holds at most 1 MiB of values.
    let stream = ids[0];
    let value = json!("v".repeat(60_000));
    for _ in 0..17 {
        ada.append_stream(stream, &value).await.unwrap();
    }
    assert_api_error(ada.append_stream(stream, &value).await, 413, "payload_too_large:stream");
    ada.append_stream(stream, &json!({"small": [1, 2, 3]})).await.expect("what fits is taken");

    // Read back whole, written page by page: the same values, in order.
    let contents = ada.get_stream(stream).await.unwrap();
    assert_eq!(contents.id, stream);
    assert_eq!(contents.data.len(), 18);
    assert!(contents.data[..17].iter().all(|v| *v == value));
    assert_eq!(contents.data[17], json!({"small": [1, 2, 3]}));
    let empty = ada.get_stream(ids[1]).await.unwrap();
    assert!(empty.data.is_empty());
}

#[tokio::test]
async fn an_error_that_quotes_a_long_non_ascii_field_is_a_400_not_a_panic() {
    let app = TestApp::spawn().await;
    let (ada, _) = app.user().await;
    // serde quotes the unknown field in its message; cut at 300 bytes, that lands mid-character.
    let body = json!({ "é".repeat(200): 1 });
    for path in ["/api/v1/chats", "/api/v1/documents"] {
        let response = ada.request(Method::POST, path).json(&body).send().await.unwrap();
        assert_eq!(response.status(), 400, "{path}");
        let error: serde_json::Value = response.json().await.unwrap();
        assert_eq!(error["code"], "bad_request:api", "{path}");
    }
}
