//! Tools in chat: the model calls `createDocument`, `updateDocument` and `requestSuggestions`;
//! the server runs them step after step and streams every step, tool input, tool output and
//! the documents' data parts in the AI SDK's UI message stream. With the mock model here, and
//! with the OpenAI-compatible adapter against a local server speaking the documented
//! `tool_calls` streaming format.

use std::sync::{Arc, Mutex};

use alleato_e2e::{TestApp, collect, test_config};
use alleato_sdk::SseChunk;
use alleato_sdk::api::ChatId;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};

/// The JSON chunks of a stream.
fn chunks(stream: &[SseChunk]) -> Vec<Value> {
    stream.iter().filter_map(SseChunk::json).collect()
}

fn of_type<'a>(chunks: &'a [Value], ty: &str) -> Vec<&'a Value> {
    chunks.iter().filter(|c| c["type"] == ty).collect()
}

fn types(chunks: &[Value]) -> Vec<String> {
    chunks.iter().map(|c| c["type"].as_str().unwrap().to_owned()).collect()
}

/// The stored answer's parts, as JSON.
async fn answer_parts(client: &alleato_sdk::Client, chat: ChatId) -> Vec<Value> {
    let messages = client.get_chat(chat).await.unwrap().messages;
    let answer = messages.last().unwrap();
    answer.parts.iter().map(|p| serde_json::to_value(p).unwrap()).collect()
}

#[tokio::test]
async fn write_update_and_suggest_through_the_mock_models_tool_calls() {
    let app = TestApp::spawn().await;
    let (ada, _) = app.user().await;
    let chat = ChatId::new();

    // 1. "write a document about rivers": a tool call, the document's parts, the output, a text.
    let stream = chunks(&collect(ada.send_text(chat, "Please write a document about rivers").await.unwrap()).await);
    let kinds = types(&stream);
    let first = |ty: &str| kinds.iter().position(|t| t == ty).unwrap_or_else(|| panic!("no {ty}: {kinds:?}"));
    assert_eq!(kinds[..3], ["start", "start-step", "tool-input-start"]);
    assert!(first("tool-input-start") < first("tool-input-delta"));
    assert!(first("tool-input-delta") < first("tool-input-available"));
    assert!(first("tool-input-available") < first("data-kind"));
    for (a, b) in [("data-kind", "data-id"), ("data-id", "data-title"), ("data-title", "data-clear")] {
        assert!(first(a) < first(b), "{a} before {b}: {kinds:?}");
    }
    assert!(first("data-clear") < first("data-textDelta"));
    assert!(first("data-textDelta") < first("data-finish"));
    assert!(first("data-finish") < first("tool-output-available"));
    assert!(first("tool-output-available") < first("text-start"));
    assert_eq!(of_type(&stream, "start-step").len(), 2, "two steps: the call, then the answer");
    assert_eq!(of_type(&stream, "finish-step").len(), 2);
    assert_eq!(kinds[kinds.len() - 2..], ["finish-step", "finish"]);
    let start = of_type(&stream, "tool-input-start")[0];
    assert_eq!(start["toolName"], "createDocument");
    let call_id = start["toolCallId"].as_str().unwrap();
    let input_text: String =
        of_type(&stream, "tool-input-delta").iter().map(|d| d["inputTextDelta"].as_str().unwrap()).collect();
    let input = &of_type(&stream, "tool-input-available")[0]["input"];
    assert_eq!(*input, json!({"title": "Rivers", "kind": "text"}));
    assert_eq!(serde_json::from_str::<Value>(&input_text).unwrap(), *input, "the deltas spell the input");
    for ty in ["data-kind", "data-id", "data-title", "data-clear", "data-textDelta", "data-finish"] {
        assert!(of_type(&stream, ty).iter().all(|c| c["transient"] == true), "{ty} is transient");
    }
    let doc_id = of_type(&stream, "data-id")[0]["data"].as_str().unwrap().to_owned();
    let content: String = of_type(&stream, "data-textDelta").iter().map(|d| d["data"].as_str().unwrap()).collect();
    let output = of_type(&stream, "tool-output-available")[0];
    assert_eq!(output["toolCallId"], call_id);
    assert_eq!(output["output"]["id"], doc_id.as_str());
    assert_eq!(output["output"]["kind"], "text");
    let said: String = of_type(&stream, "text-delta").iter().map(|d| d["delta"].as_str().unwrap()).collect();
    assert!(said.contains("Rivers"), "the final text speaks of it: {said}");
    assert_eq!(stored_text(&ada, chat).await, said);

    // The document is listed with the streamed content, as the chat's owner's.
    let documents = ada.documents().await.unwrap();
    assert_eq!(documents.len(), 1);
    assert_eq!(documents[0].id.to_string(), doc_id);
    assert_eq!(documents[0].title, "Rivers");
    assert_eq!(documents[0].content.as_deref(), Some(content.as_str()));
    assert!(content.starts_with("# Rivers"), "{content}");

    // Stored: the tool part with its output, a step boundary, the text; no transient part.
    let parts = answer_parts(&ada, chat).await;
    let stored: Vec<&str> = parts.iter().map(|p| p["type"].as_str().unwrap()).collect();
    assert_eq!(stored, ["tool-createDocument", "step-start", "text"]);
    assert_eq!(parts[0]["state"], "output-available");
    assert_eq!(parts[0]["toolCallId"], call_id);
    assert_eq!(parts[0]["input"], *input);
    assert_eq!(parts[0]["output"], output["output"]);
    // The Rust SDK reads it as a tool call.
    let messages = ada.get_chat(chat).await.unwrap().messages;
    let tool = messages[1].parts[0].tool().expect("a tool part");
    assert_eq!((tool.tool_name, tool.tool_call_id, tool.state), ("createDocument", call_id, "output-available"));
    assert_eq!(tool.output.unwrap()["title"], "Rivers");

    // 2. A follow-up updates that document: a new version that mentions the change.
    let stream = chunks(&collect(ada.send_text(chat, "Now update it to mention deltas").await.unwrap()).await);
    let call = of_type(&stream, "tool-input-available")[0];
    assert_eq!(
        (call["toolName"].as_str(), call["input"]["id"].as_str()),
        (Some("updateDocument"), Some(doc_id.as_str()))
    );
    assert_eq!(of_type(&stream, "tool-output-available")[0]["output"]["id"], doc_id.as_str());
    let id = documents[0].id;
    let versions = ada.document_versions(id).await.unwrap();
    assert_eq!(versions.len(), 2, "a new version");
    assert!(versions[1].content.as_deref().unwrap().contains("mention deltas"), "{:?}", versions[1].content);

    // 3. Suggestions: stored, each streamed as it came, tied to the newest version.
    let stream = chunks(&collect(ada.send_text(chat, "Suggest improvements").await.unwrap()).await);
    assert_eq!(of_type(&stream, "tool-input-available")[0]["toolName"], "requestSuggestions");
    let streamed: Vec<&Value> = of_type(&stream, "data-suggestion").into_iter().map(|c| &c["data"]).collect();
    let stored = ada.suggestions(id).await.unwrap();
    assert!(!stored.is_empty() && stored.len() <= 5, "{stored:?}");
    assert_eq!(streamed.len(), stored.len());
    for (streamed, stored) in streamed.iter().zip(&stored) {
        assert_eq!(streamed["id"], stored.id.to_string());
        assert_eq!(stored.document_created_at, versions[1].created_at, "tied to the newest version");
    }
    let output = &of_type(&stream, "tool-output-available")[0]["output"];
    assert_eq!(output["suggestions"], stored.len());
}

/// The stored answer's text.
async fn stored_text(client: &alleato_sdk::Client, chat: ChatId) -> String {
    let parts = answer_parts(client, chat).await;
    parts.iter().filter(|p| p["type"] == "text").map(|p| p["text"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn a_tool_call_on_someone_elses_document_fails_inside_the_result_and_the_answer_finishes() {
    let app = TestApp::spawn().await;
    let (ada, _) = app.user().await;
    let (babbage, _) = app.user().await;
    let ada_chat = ChatId::new();
    collect(ada.send_text(ada_chat, "write a document about secrets").await.unwrap()).await;
    let secret = ada.documents().await.unwrap()[0].clone();

    for ask in [
        format!("update {} to say it is mine", secret.id),
        format!("suggest improvements to {}", secret.id),
        "update 0190e0a0-0000-7000-8000-00000000abcd to exist".to_owned(),
    ] {
        let chat = ChatId::new();
        let stream = chunks(&collect(babbage.send_text(chat, &ask).await.unwrap()).await);
        let error = of_type(&stream, "tool-output-error");
        assert_eq!(error.len(), 1, "{ask}: {:?}", types(&stream));
        let text = error[0]["errorText"].as_str().unwrap();
        assert!(text.starts_with("not_found:document"), "{text}");
        assert!(of_type(&stream, "tool-output-available").is_empty());
        assert!(of_type(&stream, "data-textDelta").is_empty() && of_type(&stream, "data-suggestion").is_empty());
        assert!(of_type(&stream, "error").is_empty(), "the generation itself did not fail");
        assert_eq!(types(&stream).last().unwrap(), "finish");
        let parts = answer_parts(&babbage, chat).await;
        assert_eq!(parts[0]["state"], "output-error");
        assert_eq!(parts[0]["errorText"], text);
        assert!(parts.iter().any(|p| p["type"] == "text"), "a final text: {parts:?}");
    }
    assert_eq!(ada.document_versions(secret.id).await.unwrap().len(), 1, "untouched");
    assert!(ada.suggestions(secret.id).await.unwrap().is_empty());
    assert!(babbage.documents().await.unwrap().is_empty());
}

#[tokio::test]
async fn tools_are_offered_to_the_chat_model_only_and_can_be_turned_off() {
    let app = TestApp::spawn().await;
    let (ada, _) = app.user().await;
    let body = json!({"message": {"role": "user", "parts": [{"type": "text", "text": "write a document about rivers"}]},
                      "selectedChatModel": "chat-model-reasoning"});
    let stream = chunks(&collect(ada.send_message(ChatId::new(), &body).await.unwrap()).await);
    assert!(of_type(&stream, "tool-input-start").is_empty(), "the reasoning model answers alone");
    assert!(!of_type(&stream, "reasoning-delta").is_empty());

    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path().to_path_buf());
    config.ai.tools = false;
    let off = TestApp::spawn_with(config, Some(dir)).await;
    let (bob, _) = off.user().await;
    let stream = chunks(&collect(bob.send_text(ChatId::new(), "write a document about rivers").await.unwrap()).await);
    assert!(of_type(&stream, "tool-input-start").is_empty(), "AI_TOOLS=false");
    assert!(bob.documents().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_stop_during_a_tool_ends_its_call_with_an_error_and_keeps_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path().to_path_buf());
    config.ai.mock_chunk_delay_ms = 40; // the document takes a few seconds to write
    let app = TestApp::spawn_with(config, Some(dir)).await;
    let (ada, _) = app.user().await;
    let chat = ChatId::new();
    let mut stream = ada.send_text(chat, "write a document about slow rivers").await.unwrap();
    let mut seen = Vec::new();
    use futures::StreamExt;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        let started = chunk.json().is_some_and(|c| c["type"] == "data-textDelta");
        seen.push(chunk);
        if started {
            assert!(ada.stop(chat).await.unwrap());
            break;
        }
    }
    seen.extend(collect(stream).await);
    let stream = chunks(&seen);
    let error = of_type(&stream, "tool-output-error");
    assert_eq!(error.len(), 1, "{:?}", types(&stream));
    assert!(error[0]["errorText"].as_str().unwrap().contains("Stopped"));
    assert_eq!(types(&stream).last().unwrap(), "finish");
    let parts = answer_parts(&ada, chat).await;
    assert_eq!(parts.len(), 1);
    assert_eq!(
        (parts[0]["type"].as_str(), parts[0]["state"].as_str()),
        (Some("tool-createDocument"), Some("output-error"))
    );
    assert!(ada.documents().await.unwrap().is_empty(), "a document cut short is not saved");
}

/// What the local OpenAI-compatible server saw: every request body.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<Value>>>);

fn sse(events: Vec<Value>) -> Response {
    let mut body: String = events.iter().map(|e| format!("data: {e}\n\n")).collect();
    body.push_str("data: [DONE]\n\n");
    ([("content-type", "text/event-stream")], body).into_response()
}

fn delta(delta: Value) -> Value {
    json!({"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta, "finish_reason": null}]})
}

fn finish(reason: &str) -> Value {
    json!({"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {}, "finish_reason": reason}]})
}

/// A tool call streamed as OpenAI does: the id and name first, the arguments in 5-byte pieces.
fn streamed_call(index: u32, id: &str, name: &str, arguments: &str) -> Vec<Value> {
    let mut out = vec![delta(json!({"tool_calls": [{"index": index, "id": id, "type": "function",
                                                      "function": {"name": name, "arguments": ""}}]}))];
    let bytes: Vec<char> = arguments.chars().collect();
    for piece in bytes.chunks(5) {
        let piece: String = piece.iter().collect();
        out.push(delta(json!({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})));
    }
    out
}

/// The OpenAI-compatible server: documents are written on request; the chat model `tools`
/// calls two tools in its first step (one on a document that does not exist), then answers;
/// the chat model `loop` calls a tool in every step.
async fn completions(State(seen): State<Seen>, Json(body): Json<Value>) -> Response {
    seen.0.lock().unwrap().push(body.clone());
    let system = body["messages"][0]["content"].as_str().unwrap_or_default();
    if system.starts_with(alleato_core::services::tools::DOCUMENT_PROMPT) {
        return sse(vec![
            delta(json!({"content": "# Rivers\n\n"})),
            delta(json!({"content": "Rivers run."})),
            finish("stop"),
        ]);
    }
    let tool_messages = body["messages"].as_array().unwrap().iter().filter(|m| m["role"] == "tool").count();
    match body["model"].as_str().unwrap() {
        "tools" if tool_messages == 0 => {
            let mut events = streamed_call(0, "call_a", "createDocument", r#"{"title":"Rivers","kind":"text"}"#);
            events.extend(streamed_call(
                1,
                "call_b",
                "updateDocument",
                r#"{"id":"0190e0a0-0000-7000-8000-0000000000ff","description":"more"}"#,
            ));
            events.push(finish("tool_calls"));
            sse(events)
        }
        "tools" => sse(vec![delta(json!({"content": "Done."})), finish("stop")]),
        "loop" => {
            let n = tool_messages + 1;
            let mut events = streamed_call(0, &format!("call_{n}"), "requestSuggestions", r#"{"documentId":"nope"}"#);
            events.push(finish("tool_calls"));
            sse(events)
        }
        other => (axum::http::StatusCode::NOT_FOUND, format!("no model {other}")).into_response(),
    }
}

async fn provider_app(chat_model: &str) -> (TestApp, Seen) {
    let seen = Seen::default();
    let router = Router::new().route("/v1/chat/completions", post(completions)).with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path().to_path_buf());
    config.ai.provider = Some("openai".into());
    config.ai.openai_base_url = format!("http://{addr}/v1");
    config.ai.chat_model = Some(chat_model.into());
    config.ai.title_model = Some("title".into());
    (TestApp::spawn_with(config, Some(dir)).await, seen)
}

/// The chat requests the server saw (not titles, not documents).
fn chat_requests(seen: &Seen, model: &str) -> Vec<Value> {
    seen.0.lock().unwrap().iter().filter(|b| b["model"] == model && b.get("tools").is_some()).cloned().collect()
}

#[tokio::test]
async fn the_openai_adapter_streams_two_calls_in_a_step_runs_them_and_sends_the_results_back() {
    let (app, seen) = provider_app("tools").await;
    let (ada, _) = app.user().await;
    let chat = ChatId::new();
    let stream = chunks(&collect(ada.send_text(chat, "Write about rivers").await.unwrap()).await);

    // Both calls, each input streamed in pieces, then complete.
    let starts = of_type(&stream, "tool-input-start");
    let names: Vec<_> = starts.iter().map(|s| s["toolName"].as_str().unwrap()).collect();
    assert_eq!(names, ["createDocument", "updateDocument"]);
    let pieces = of_type(&stream, "tool-input-delta");
    assert!(pieces.iter().filter(|d| d["toolCallId"] == "call_a").count() >= 6, "many deltas");
    let spelled: String =
        pieces.iter().filter(|d| d["toolCallId"] == "call_a").map(|d| d["inputTextDelta"].as_str().unwrap()).collect();
    assert_eq!(spelled, r#"{"title":"Rivers","kind":"text"}"#);
    let inputs = of_type(&stream, "tool-input-available");
    assert_eq!(inputs[0]["input"], json!({"title": "Rivers", "kind": "text"}));
    assert_eq!(inputs[1]["input"]["description"], "more");
    // One worked, one failed (no such document), and the model went on.
    assert_eq!(of_type(&stream, "tool-output-available")[0]["toolCallId"], "call_a");
    let failed = of_type(&stream, "tool-output-error");
    assert_eq!(failed[0]["toolCallId"], "call_b");
    assert!(failed[0]["errorText"].as_str().unwrap().starts_with("not_found:document"));
    assert_eq!(stored_text(&ada, chat).await, "Done.");
    let content: String = of_type(&stream, "data-textDelta").iter().map(|d| d["data"].as_str().unwrap()).collect();
    assert_eq!(content, "# Rivers\n\nRivers run.");
    assert_eq!(ada.documents().await.unwrap()[0].content.as_deref(), Some("# Rivers\n\nRivers run."));

    // The provider got the tools, then the calls and both results back in its format.
    let requests = chat_requests(&seen, "tools");
    assert_eq!(requests.len(), 2);
    let tools: Vec<_> =
        requests[0]["tools"].as_array().unwrap().iter().map(|t| t["function"]["name"].clone()).collect();
    assert_eq!(tools, [json!("createDocument"), json!("updateDocument"), json!("requestSuggestions")]);
    assert_eq!(requests[0]["tools"][0]["type"], "function");
    assert_eq!(requests[0]["tools"][0]["function"]["parameters"]["required"], json!(["title", "kind"]));
    let messages = requests[1]["messages"].as_array().unwrap();
    let n = messages.len();
    let assistant = &messages[n - 3];
    assert_eq!(assistant["role"], "assistant");
    let ids: Vec<_> = assistant["tool_calls"].as_array().unwrap().iter().map(|c| c["id"].clone()).collect();
    assert_eq!(ids, [json!("call_a"), json!("call_b")]);
    assert_eq!(assistant["tool_calls"][0]["function"]["name"], "createDocument");
    let arguments: Value =
        serde_json::from_str(assistant["tool_calls"][0]["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(arguments, json!({"title": "Rivers", "kind": "text"}));
    assert_eq!(
        (messages[n - 2]["role"].as_str(), messages[n - 2]["tool_call_id"].as_str()),
        (Some("tool"), Some("call_a"))
    );
    let result: Value = serde_json::from_str(messages[n - 2]["content"].as_str().unwrap()).unwrap();
    assert_eq!(result["kind"], "text");
    let error: Value = serde_json::from_str(messages[n - 1]["content"].as_str().unwrap()).unwrap();
    assert!(error["error"].as_str().unwrap().starts_with("not_found:document"), "{error}");

    // The next turn carries the first turn's calls and results in the prompt.
    collect(ada.send_text(chat, "Thanks").await.unwrap()).await;
    let third = chat_requests(&seen, "tools").pop().unwrap();
    let replayed = third["messages"].as_array().unwrap().iter().filter(|m| m["role"] == "tool").count();
    assert_eq!(replayed, 2, "the stored tool parts become the prompt's tool messages");
}

#[tokio::test]
async fn a_model_that_keeps_calling_tools_stops_at_the_step_limit() {
    let (app, seen) = provider_app("loop").await;
    let (ada, _) = app.user().await;
    let chat = ChatId::new();
    let stream = chunks(&collect(ada.send_text(chat, "Go on forever").await.unwrap()).await);
    assert_eq!(chat_requests(&seen, "loop").len(), 5, "five steps, the default limit");
    assert_eq!(of_type(&stream, "start-step").len(), 5);
    assert_eq!(of_type(&stream, "finish-step").len(), 5);
    assert_eq!(of_type(&stream, "tool-output-error").len(), 5);
    assert!(of_type(&stream, "error").is_empty(), "reaching the limit is not an error");
    assert_eq!(types(&stream).last().unwrap(), "finish");
    let parts = answer_parts(&ada, chat).await;
    let tool_parts = parts.iter().filter(|p| p["type"] == "tool-requestSuggestions").count();
    assert_eq!(tool_parts, 5);
    assert_eq!(parts.iter().filter(|p| p["type"] == "step-start").count(), 4, "boundaries between steps");
}
