//! Sending messages and watching answers stream: the AI SDK UI message stream protocol, the
//! three body shapes, persistence, resume, stop, titles, edit/regenerate and entitlements.

use std::time::Duration;

use alleato_e2e::{TestApp, assert_api_error, collect, deltas, test_config, wait_for_messages};
use alleato_sdk::api::{ChatId, CreateChatRequest, Role, Visibility, VoteType};
use futures::StreamExt;
use reqwest::Method;
use serde_json::json;

fn text_message(text: &str) -> serde_json::Value {
    json!({"message": {"role": "user", "parts": [{"type": "text", "text": text}]}})
}

#[tokio::test]
async fn a_message_streams_a_valid_ui_message_stream_and_both_messages_are_stored() {
    let app = TestApp::spawn().await;
    let (ada, _) = app.user().await;
    let chat = ChatId::new();
    let response = ada
        .request(Method::POST, &format!("/api/v1/chats/{chat}/messages"))
        .json(&text_message("Why is the sky blue on a clear afternoon?"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers();
    assert_eq!(headers["content-type"], "text/event-stream");
    assert_eq!(headers["cache-control"], "no-cache");
    assert_eq!(headers["x-vercel-ai-ui-message-stream"], "v1");
    assert_eq!(headers["x-accel-buffering"], "no");
    let body = response.text().await.unwrap();
    assert!(body.ends_with("data: [DONE]\n\n"), "ends with [DONE]: {}", &body[body.len().saturating_sub(200)..]);

    // Parse the raw SSE: every event has an id, numbered 1, 2, 3, ...
    let events: Vec<(u64, String)> = body
        .split("\n\n")
        .filter(|e| !e.trim().is_empty() && !e.starts_with(':'))
        .map(|event| {
            let id = event.lines().find_map(|l| l.strip_prefix("id: ")).expect("an id line").parse().unwrap();
            let data = event.lines().find_map(|l| l.strip_prefix("data: ")).expect("a data line").to_owned();
            (id, data)
        })
        .collect();
    assert_eq!(events.iter().map(|(id, _)| *id).collect::<Vec<_>>(), (1..=events.len() as u64).collect::<Vec<_>>());
    let chunks: Vec<serde_json::Value> =
        events.iter().filter(|(_, d)| d != "[DONE]").map(|(_, d)| serde_json::from_str(d).unwrap()).collect();
    let types: Vec<&str> = chunks.iter().map(|c| c["type"].as_str().unwrap()).collect();
    assert_eq!(types[..3], ["start", "start-step", "text-start"]);
    assert_eq!(types[types.len() - 2..], ["finish-step", "finish"]);
    let text_id = chunks[2]["id"].as_str().unwrap();
    let deltas: Vec<_> = chunks.iter().filter(|c| c["type"] == "text-delta").collect();
    assert!(deltas.len() >= 40, "word by word: {} deltas", deltas.len());
    assert!(deltas.iter().all(|d| d["id"] == text_id && d["delta"].is_string()));
    let end = types.iter().position(|t| *t == "text-end").expect("text-end");
    assert_eq!(chunks[end]["id"], text_id);
    let title = chunks.iter().find(|c| c["type"] == "data-chat-title").expect("a new chat gets a title part");
    assert_eq!(title["data"], "Why is the sky blue on");

    let read = ada.get_chat(chat).await.unwrap();
    assert_eq!(read.chat.title, "Why is the sky blue on", "the title is stored");
    assert_eq!(read.messages.len(), 2);
    let (user, answer) = (&read.messages[0], &read.messages[1]);
    assert_eq!((user.role, answer.role), (Role::User, Role::Assistant));
    assert_eq!(answer.id.to_string(), chunks[0]["messageId"].as_str().unwrap(), "start carries the stored id");
    let streamed: String = deltas.iter().map(|d| d["delta"].as_str().unwrap()).collect();
    assert_eq!(answer.parts[0].text_content(), Some(streamed.as_str()), "the stored answer is what was streamed");
}

#[tokio::test]
async fn all_three_body_shapes_work_and_history_is_not_duplicated() {
    let app = TestApp::spawn().await;
    let (ada, _) = app.user().await;
    let chat = ChatId::new();
    let first = collect(ada.send_message(chat, &text_message("First question")).await.unwrap()).await;
    assert!(first.last().unwrap().is_done());
    let history = ada.get_chat(chat).await.unwrap().messages;

    // The AI SDK default transport sends the whole history; only the last message is new.
    let mut messages: Vec<serde_json::Value> = history.iter().map(|m| serde_json::to_value(m).unwrap()).collect();
    messages
        .push(json!({"id": "msg_client_42", "role": "user", "parts": [{"type": "text", "text": "Second question"}]}));
    let second = collect(
        ada.send_message(chat, &json!({"id": chat, "messages": messages, "trigger": "submit-message"})).await.unwrap(),
    )
    .await;
    assert!(deltas(&second, "text").contains("Second question"));

    // The original TypeScript SDK: role and content.
    let third = collect(
        ada.send_message(
            chat,
            &json!({"messages": [{"role": "user", "content": "Third question"}], "model": "chat-model"}),
        )
        .await
        .unwrap(),
    )
    .await;
    assert!(deltas(&third, "text").contains("Third question"));
    let stored = wait_for_messages(&ada, chat, 6).await;
    assert_eq!(stored.len(), 6, "three questions and three answers, nothing twice");
    let users: Vec<_> =
        stored.iter().filter(|m| m.role == Role::User).map(|m| m.parts[0].text_content().unwrap().to_owned()).collect();
    assert_eq!(users, ["First question", "Second question", "Third question"]);
}

#[tokio::test]
async fn the_reasoning_model_streams_and_stores_reasoning() {
    let app = TestApp::spawn().await;
    let (ada, _) = app.user().await;
    let chat = ChatId::new();
    let body = json!({"message": {"role": "user", "parts": [{"type": "text", "text": "Think first"}]}, "selectedChatModel": "chat-model-reasoning"});
    let chunks = collect(ada.send_message(chat, &body).await.unwrap()).await;
    let types: Vec<String> = chunks.iter().filter_map(|c| c.chunk_type()).collect();
    let reasoning_start = types.iter().position(|t| t == "reasoning-start").expect("reasoning");
    let reasoning_end = types.iter().position(|t| t == "reasoning-end").unwrap();
    let text_start = types.iter().position(|t| t == "text-start").unwrap();
    assert!(reasoning_start < reasoning_end && reasoning_end < text_start, "{types:?}");
    let answer = &wait_for_messages(&ada, chat, 2).await[1];
    assert_eq!(answer.parts[0].type_name(), "reasoning");
    assert_eq!(answer.parts[0].text_content().unwrap(), deltas(&chunks, "reasoning"));
    assert_eq!(answer.parts[1].text_content().unwrap(), deltas(&chunks, "text"));
}

#[tokio::test]
async fn bad_messages_are_refused_with_reasons() {
    let app = TestApp::spawn().await;
    let (ada, _) = app.user().await;
    let (bob, _) = app.user().await;
    let chat = ChatId::new();
    let too_long = "x".repeat(32_001);
    for (body, needle) in [
        (text_message(&too_long), "32000"),
        (json!({"message": {"role": "assistant", "parts": [{"type": "text", "text": "hi"}]}}), "role `user`"),
        (json!({"message": {"role": "user", "parts": [{"type": "bogus"}]}}), "unknown message part type"),
        (json!({"message": {"role": "user", "parts": []}}), "no parts"),
        (json!({"messages": []}), "empty"),
        (json!({}), "`message`"),
        (
            json!({"message": {"role": "user", "parts": [{"type": "text", "text": "hi"}]}, "model": "gpt-9000"}),
            "Unknown model",
        ),
    ] {
        let err = ada.send_message(chat, &body).await.err().expect("refused");
        assert_eq!(err.status(), Some(400), "{body}");
        assert!(err.to_string().contains(needle), "{needle:?} not in {err}");
    }
    assert!(ada.get_chat(chat).await.is_err(), "nothing was created");
    let private = ada.create_chat(&Default::default()).await.unwrap();
    let public = ada
        .create_chat(&CreateChatRequest { visibility: Some(Visibility::Public), ..Default::default() })
        .await
        .unwrap();
    for target in [private.id, public.id] {
        assert_api_error(bob.send_message(target, &text_message("mine?")).await.map(drop), 404, "not_found:chat");
    }
    assert_api_error(app.client.send_message(chat, &text_message("anon")).await.map(drop), 401, "unauthorized:auth");
}

#[tokio::test]
async fn a_client_that_disconnects_resumes_from_its_last_event_and_the_answer_is_stored_anyway() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path().to_path_buf());
    config.ai.mock_chunk_delay_ms = 15;
    let app = TestApp::spawn_with(config, Some(dir)).await;
    let (ada, _) = app.user().await;
    let chat = ChatId::new();

    let mut first = ada.send_text(chat, "Tell me about resumable streams please").await.unwrap();
    let mut seen = Vec::new();
    while seen.len() < 6 {
        seen.push(first.next().await.unwrap().unwrap());
    }
    drop(first); // the client goes away mid-answer

    // A second client follows the same generation from the start.
    let follower = tokio::spawn({
        let ada = ada.clone();
        async move { collect(ada.resume(chat, Some(0)).await.unwrap().expect("active")).await }
    });
    let last_seen = seen.last().unwrap().id.unwrap();
    let rest = collect(ada.resume(chat, Some(last_seen)).await.unwrap().expect("resumable")).await;
    let ids: Vec<u64> = rest.iter().map(|c| c.id.unwrap()).collect();
    assert_eq!(ids[0], last_seen + 1, "continues right after the last event seen");
    assert!(ids.windows(2).all(|w| w[1] == w[0] + 1), "every remaining chunk once, in order");
    assert!(rest.last().unwrap().is_done());

    let everything = follower.await.unwrap();
    let whole: Vec<_> = seen.iter().chain(rest.iter()).cloned().collect();
    assert_eq!(everything, whole, "the second client saw the same stream");
    let stored = wait_for_messages(&ada, chat, 2).await;
    assert_eq!(stored[1].parts[0].text_content().unwrap(), deltas(&whole, "text"));

    // Finished: without a cursor there is nothing to resume; with one it still replays.
    assert!(ada.resume(chat, None).await.unwrap().is_none());
    let replay = collect(ada.resume(chat, Some(3)).await.unwrap().unwrap()).await;
    assert_eq!(replay, whole[3..].to_vec());
    let raw = ada.request(Method::GET, &format!("/api/v1/chats/{chat}/stream")).send().await.unwrap();
    assert_eq!(raw.status(), 204);
    assert_api_error(ada.resume(chat, Some(100_000)).await.map(drop), 409, "conflict:stream");
}

#[tokio::test]
async fn an_abandoned_generation_still_finishes_and_is_stored() {
    let app = TestApp::spawn().await;
    let (ada, _) = app.user().await;
    let chat = ChatId::new();
    let mut stream = ada.send_text(chat, "Nobody is listening").await.unwrap();
    stream.next().await.unwrap().unwrap();
    drop(stream);
    let stored = wait_for_messages(&ada, chat, 2).await;
    assert!(stored[1].parts[0].text_content().unwrap().split_whitespace().count() >= 40);
}

#[tokio::test]
async fn resume_follows_access_rules_and_expiry() {
    let app = TestApp::spawn().await;
    let (ada, _) = app.user().await;
    let (bob, _) = app.user().await;
    let private = ada.create_chat(&Default::default()).await.unwrap();
    assert!(ada.resume(private.id, None).await.unwrap().is_none(), "no generation yet: 204");
    assert_api_error(ada.resume(private.id, Some(1)).await.map(drop), 404, "not_found:stream");
    collect(ada.send_text(private.id, "hello").await.unwrap()).await;
    assert_api_error(bob.resume(private.id, Some(0)).await.map(drop), 404, "not_found:chat");

    let public = ada
        .create_chat(&CreateChatRequest { visibility: Some(Visibility::Public), ..Default::default() })
        .await
        .unwrap();
    let own = collect(ada.send_text(public.id, "shared").await.unwrap()).await;
    let theirs =
        collect(bob.resume(public.id, Some(0)).await.unwrap().expect("public chats can be resumed by others")).await;
    assert_eq!(own, theirs);
    assert_api_error(bob.stop(public.id).await, 403, "forbidden:chat");
}

#[tokio::test]
async fn stop_ends_the_generation_and_keeps_the_partial_answer() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path().to_path_buf());
    config.ai.mock_chunk_delay_ms = 25;
    let app = TestApp::spawn_with(config, Some(dir)).await;
    let (ada, _) = app.user().await;
    let chat = ChatId::new();
    let mut stream = ada.send_text(chat, "A long answer please").await.unwrap();
    let mut chunks = Vec::new();
    while chunks.iter().filter(|c: &&alleato_sdk::SseChunk| c.chunk_type().as_deref() == Some("text-delta")).count() < 5
    {
        chunks.push(stream.next().await.unwrap().unwrap());
    }
    let follower = tokio::spawn({
        let ada = ada.clone();
        async move { collect(ada.resume(chat, Some(0)).await.unwrap().unwrap()).await }
    });
    assert!(ada.stop(chat).await.unwrap());
    let started = std::time::Instant::now();
    while let Some(chunk) = stream.next().await {
        chunks.push(chunk.unwrap());
    }
    assert!(started.elapsed() < Duration::from_secs(2), "the stream ended promptly");
    let types: Vec<String> = chunks.iter().filter_map(|c| c.chunk_type()).filter(|t| t != "data-chat-title").collect();
    assert_eq!(types[types.len() - 3..], ["text-end", "finish-step", "finish"]);
    assert!(chunks.last().unwrap().is_done());
    let followed = follower.await.unwrap();
    assert!(followed.last().unwrap().is_done(), "followers end cleanly too");

    let stored = wait_for_messages(&ada, chat, 2).await;
    let partial = stored[1].parts[0].text_content().unwrap();
    assert_eq!(partial, deltas(&chunks, "text"));
    assert!(partial.split_whitespace().count() < 40, "cut short: {partial}");
    assert!(!ada.stop(chat).await.unwrap(), "nothing left to stop");
}

#[tokio::test]
async fn one_generation_at_a_time_per_chat() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path().to_path_buf());
    config.ai.mock_chunk_delay_ms = 20;
    let app = TestApp::spawn_with(config, Some(dir)).await;
    let (ada, _) = app.user().await;
    let chat = ChatId::new();
    let running = ada.send_text(chat, "first").await.unwrap();
    assert_api_error(ada.send_text(chat, "second").await.map(drop), 409, "conflict:chat");
    ada.stop(chat).await.unwrap();
    collect(running).await;
    let messages = wait_for_messages(&ada, chat, 2).await;
    assert_eq!(messages.len(), 2, "the refused message was not stored");
    collect(ada.send_text(chat, "second").await.unwrap()).await;
}

#[tokio::test]
async fn editing_deletes_later_messages_and_resending_an_id_regenerates() {
    let app = TestApp::spawn().await;
    let (ada, _) = app.user().await;
    let chat = ChatId::new();
    let first_id = "0190e0a0-0000-7000-8000-0000000000aa";
    let ask = |id: &str, text: &str| json!({"message": {"id": id, "role": "user", "parts": [{"type": "text", "text": text}]}});
    collect(ada.send_message(chat, &ask(first_id, "Original question")).await.unwrap()).await;
    collect(ada.send_message(chat, &ask("msg_second", "Follow-up")).await.unwrap()).await;
    let messages = wait_for_messages(&ada, chat, 4).await;
    ada.vote(chat, messages[3].id, VoteType::Up).await.unwrap();

    assert_eq!(ada.delete_messages_after(chat, first_id).await.unwrap(), 3);
    let left = ada.get_chat(chat).await.unwrap().messages;
    assert_eq!(left.len(), 1);
    assert!(ada.votes(chat).await.unwrap().is_empty(), "votes went with their messages");
    assert_api_error(
        ada.delete_messages_after(chat, "0190e0a0-0000-7000-8000-0000000000ff").await,
        404,
        "not_found:message",
    );

    let regenerated = collect(ada.send_message(chat, &ask(first_id, "Edited question")).await.unwrap()).await;
    assert!(deltas(&regenerated, "text").contains("Edited question"));
    let now = wait_for_messages(&ada, chat, 2).await;
    assert_eq!(now.len(), 2, "the re-sent message replaced the old one");
    assert_eq!(now[0].id.to_string(), first_id);
    assert_eq!(now[0].parts[0].text_content(), Some("Edited question"));
}

#[tokio::test]
async fn entitlements_are_counted_exactly_per_user_type() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path().to_path_buf());
    config.chat.guest_messages_per_day = 2;
    config.chat.regular_messages_per_day = 3;
    let app = TestApp::spawn_with(config, Some(dir)).await;
    let (guest, _) = app.guest().await;
    let chat = ChatId::new();
    for i in 0..2 {
        collect(guest.send_text(chat, &format!("message {i}")).await.unwrap()).await;
        wait_for_messages(&guest, chat, 2 * (i + 1)).await;
    }
    let response = guest
        .request(Method::POST, &format!("/api/v1/chats/{chat}/messages"))
        .json(&text_message("one more"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429, "the limit is exact: the third message is refused");
    let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry_after > 23 * 3600 && retry_after <= 24 * 3600, "{retry_after}");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], "rate_limit:chat");
    assert!(
        body["message"].as_str().unwrap().contains("2 messages")
            && body["message"].as_str().unwrap().contains("send again at")
    );

    let (regular, _) = app.user().await;
    let other = ChatId::new();
    for i in 0..3 {
        collect(regular.send_text(other, &format!("message {i}")).await.unwrap()).await;
        wait_for_messages(&regular, other, 2 * (i + 1)).await;
    }
    assert_api_error(regular.send_text(other, "fourth").await.map(drop), 429, "rate_limit:chat");
}

#[tokio::test]
async fn a_failing_provider_ends_the_stream_with_an_error_and_marks_the_stored_answer() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path().to_path_buf());
    config.ai.provider = Some("openai".into());
    // Nothing listens here: the provider cannot be reached.
    config.ai.openai_base_url = "http://127.0.0.1:9/v1".into();
    config.ai.first_byte_timeout_secs = 2;
    let app = TestApp::spawn_with(config, Some(dir)).await;
    let (ada, _) = app.user().await;
    let chat = ChatId::new();
    let chunks = collect(ada.send_text(chat, "hello?").await.unwrap()).await;
    let error = chunks.iter().filter_map(|c| c.json()).find(|c| c["type"] == "error").expect("an error chunk");
    assert!(error["errorText"].as_str().unwrap().contains("model"), "{error}");
    assert!(chunks.last().unwrap().is_done());
    let stored = wait_for_messages(&ada, chat, 2).await;
    assert_eq!(stored[1].parts.last().unwrap().type_name(), "data-error", "the answer is marked");
}

#[tokio::test]
async fn the_generic_streams_resource_works_for_its_owner_only() {
    let app = TestApp::spawn().await;
    let (ada, _) = app.user().await;
    let (bob, _) = app.user().await;
    let response = ada.request(Method::POST, "/api/v1/streams").send().await.unwrap();
    assert_eq!(response.status(), 201);
    let id = ada.create_stream().await.unwrap();
    ada.append_stream(id, &json!({"n": 1})).await.unwrap();
    ada.append_stream(id, &json!("two")).await.unwrap();
    let contents = ada.get_stream(id).await.unwrap();
    assert_eq!(contents.data, vec![json!({"n": 1}), json!("two")]);
    assert!(contents.updated_at >= contents.created_at);

    let mut live = ada.follow_stream(id, Some(1)).await.unwrap();
    let replayed = live.next().await.unwrap().unwrap();
    assert_eq!((replayed.id, replayed.json()), (Some(2), Some(json!("two"))));
    ada.append_stream(id, &json!([3])).await.unwrap();
    let followed = tokio::time::timeout(Duration::from_secs(5), live.next()).await.unwrap().unwrap().unwrap();
    assert_eq!((followed.id, followed.json()), (Some(3), Some(json!([3]))));
    assert_api_error(ada.follow_stream(id, Some(4)).await.map(drop), 409, "conflict:stream");

    assert_api_error(bob.get_stream(id).await, 404, "not_found:stream");
    assert_api_error(bob.append_stream(id, &json!(1)).await, 404, "not_found:stream");
    assert_api_error(bob.delete_stream(id).await, 404, "not_found:stream");
    assert_api_error(bob.follow_stream(id, None).await.map(drop), 404, "not_found:stream");
    let big = json!("x".repeat(70 * 1024));
    assert_api_error(ada.append_stream(id, &big).await, 413, "payload_too_large:stream");
    ada.delete_stream(id).await.unwrap();
    assert_api_error(ada.get_stream(id).await, 404, "not_found:stream");
    assert_api_error(ada.append_stream(id, &json!(1)).await, 404, "not_found:stream");
}
