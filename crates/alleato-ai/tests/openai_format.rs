//! The OpenAI-compatible provider against a local server that speaks the documented streaming
//! format (OpenAI API reference: chat completions, `stream: true`; `data: [DONE]` at the end).
//! The model name picks the server's behaviour.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use alleato_ai::{OpenAiCompatible, OpenAiSettings};
use alleato_core::Error;
use alleato_core::model::Role;
use alleato_core::ports::{LanguageModel, ModelEvent, ModelRequest, PromptMessage};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use futures::StreamExt;
use serde_json::{Value, json};

#[derive(Clone, Default)]
struct Calls(Arc<AtomicU32>);

fn sse(events: Vec<String>) -> Response {
    let body = events.into_iter().map(|e| format!("data: {e}\n\n")).collect::<String>();
    ([("content-type", "text/event-stream")], body).into_response()
}

fn chunk(delta: Value) -> String {
    json!({"id": "c1", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta, "finish_reason": null}]})
        .to_string()
}

fn finish() -> String {
    json!({"id": "c1", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        .to_string()
}

async fn completions(State(calls): State<Calls>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    let n = calls.0.fetch_add(1, Ordering::SeqCst) + 1;
    assert_eq!(body["stream"], true);
    assert_eq!(body["messages"][0]["role"], "user");
    assert_eq!(headers["authorization"], "Bearer test-key");
    match body["model"].as_str().unwrap() {
        "normal" => sse(vec![
            chunk(json!({"role": "assistant", "content": ""})),
            chunk(json!({"content": "Hello"})),
            chunk(json!({"content": ", world"})),
            finish(),
            json!({"id": "c1", "choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 3}}).to_string(),
            "[DONE]".into(),
        ]),
        "reasoning" => sse(vec![
            chunk(json!({"reasoning_content": "Let me think."})),
            chunk(json!({"reasoning": " Still thinking."})),
            chunk(json!({"content": "Answer"})),
            finish(),
            "[DONE]".into(),
        ]),
        "unauthorized" => {
            (StatusCode::UNAUTHORIZED, Json(json!({"error": {"message": "Incorrect API key"}}))).into_response()
        }
        "missing" => (StatusCode::NOT_FOUND, Json(json!({"error": {"message": "The model `missing` does not exist"}})))
            .into_response(),
        "flaky" if n < 3 => (StatusCode::SERVICE_UNAVAILABLE, "overloaded").into_response(),
        "flaky" => sse(vec![chunk(json!({"content": "third time lucky"})), finish(), "[DONE]".into()]),
        "limited" => (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "7")], "slow down").into_response(),
        "cut" => {
            let parts: Vec<Result<String, std::io::Error>> = vec![
                Ok(format!("data: {}\n\n", chunk(json!({"content": "partial "})))),
                Ok(format!("data: {}\n\n", chunk(json!({"content": "answer"})))),
                Err(std::io::Error::other("connection reset")),
            ];
            Response::builder()
                .header("content-type", "text/event-stream")
                .body(Body::from_stream(futures::stream::iter(parts).then(|part| async move {
                    // Paced, so the headers and first chunks are on the wire before the cut.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    part
                })))
                .unwrap()
        }
        "truncated" => sse(vec![chunk(json!({"content": "no ending"}))]),
        "slow" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            sse(vec![chunk(json!({"content": "late"})), finish(), "[DONE]".into()])
        }
        // Providers write `null` for absent fields (vLLM's `"tool_calls": null`).
        "nulls" => sse(vec![
            chunk(json!({"content": "Hi", "tool_calls": null, "reasoning_content": null})),
            json!({"id": "c1", "choices": [{"index": 0, "delta": null, "finish_reason": null}]}).to_string(),
            chunk(json!({"content": " there", "tool_calls": [{"index": 0, "id": "c", "function": null}]})),
            json!({"id": "c1", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": null})
                .to_string(),
            "[DONE]".into(),
        ]),
        // A hostile provider: a new call on every piece, or one call's arguments without end.
        "many-calls" => sse((0..100u64)
            .map(|i| {
                chunk(json!({"tool_calls": [{"index": i, "id": format!("c{i}"), "function": {"name": "lookUp"}}]}))
            })
            .collect()),
        "endless-arguments" => {
            let piece = "x".repeat(64 * 1024);
            sse((0..6)
                .map(|_| chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})))
                .collect())
        }
        "huge-index" => sse(vec![
            chunk(
                json!({"tool_calls": [{"index": u64::MAX, "id": "a", "function": {"name": "lookUp", "arguments": "{}"}}]}),
            ),
            chunk(json!({"tool_calls": [{"id": "b", "function": {"name": "lookUp", "arguments": "{}"}}]})),
            finish(),
            "[DONE]".into(),
        ]),
        other => panic!("unexpected model {other}"),
    }
}

async fn server() -> (String, Calls) {
    let calls = Calls::default();
    let app = Router::new().route("/v1/chat/completions", post(completions)).with_state(calls.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/v1"), calls)
}

fn provider(base_url: String, first_byte_timeout: Duration) -> OpenAiCompatible {
    OpenAiCompatible::new(OpenAiSettings {
        base_url,
        api_key: Some("test-key".into()),
        first_byte_timeout,
        idle_timeout: Duration::from_secs(5),
        retries: 2,
    })
    .unwrap()
}

fn request(model: &str) -> ModelRequest {
    ModelRequest::new(model, vec![PromptMessage::new(Role::User, "Hi")])
}

async fn run(provider: &OpenAiCompatible, model: &str) -> Result<Vec<Result<ModelEvent, Error>>, Error> {
    Ok(provider.stream(request(model)).await?.collect().await)
}

#[tokio::test]
async fn a_normal_reply_streams_text_and_usage() {
    let (url, _) = server().await;
    let events = run(&provider(url, Duration::from_secs(5)), "normal").await.unwrap();
    let events: Vec<_> = events.into_iter().map(Result::unwrap).collect();
    assert_eq!(
        events,
        vec![
            ModelEvent::TextDelta("Hello".into()),
            ModelEvent::TextDelta(", world".into()),
            ModelEvent::Usage { input_tokens: 7, output_tokens: 3 },
        ]
    );
}

#[tokio::test]
async fn reasoning_deltas_become_reasoning_events() {
    let (url, _) = server().await;
    let events: Vec<_> = run(&provider(url, Duration::from_secs(5)), "reasoning")
        .await
        .unwrap()
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        events,
        vec![
            ModelEvent::ReasoningDelta("Let me think.".into()),
            ModelEvent::ReasoningDelta(" Still thinking.".into()),
            ModelEvent::TextDelta("Answer".into()),
        ]
    );
}

#[tokio::test]
async fn refusals_are_clear_errors_and_not_retried() {
    let (url, calls) = server().await;
    let p = provider(url, Duration::from_secs(5));
    let err = run(&p, "unauthorized").await.unwrap_err();
    assert!(matches!(&err, Error::Upstream { .. }), "{err:?}");
    assert!(err.to_string().contains("API key"), "{err}");
    assert_eq!(calls.0.load(Ordering::SeqCst), 1, "a bad key is not retried");
    let err = run(&p, "missing").await.unwrap_err();
    assert!(matches!(&err, Error::Upstream { .. }) && err.to_string().contains("404"), "{err}");
}

#[tokio::test]
async fn server_errors_are_retried_before_the_first_byte() {
    let (url, calls) = server().await;
    let events = run(&provider(url, Duration::from_secs(5)), "flaky").await.unwrap();
    assert_eq!(
        events.into_iter().map(Result::unwrap).collect::<Vec<_>>(),
        vec![ModelEvent::TextDelta("third time lucky".into())]
    );
    assert_eq!(calls.0.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn rate_limits_keep_the_providers_retry_after() {
    let (url, calls) = server().await;
    let err = run(&provider(url, Duration::from_secs(5)), "limited").await.unwrap_err();
    assert!(matches!(err, Error::RateLimited { retry_after_secs: 7, .. }), "{err:?}");
    assert_eq!(calls.0.load(Ordering::SeqCst), 3, "retried, then given up");
}

#[tokio::test]
async fn a_stream_cut_midway_ends_with_an_error_after_the_partial_text() {
    let (url, _) = server().await;
    let p = provider(url, Duration::from_secs(5));
    for model in ["cut", "truncated"] {
        let events = run(&p, model).await.unwrap();
        let (last, partial) = events.split_last().unwrap();
        assert!(!partial.is_empty(), "{model}: the text before the cut arrives");
        assert!(partial.iter().all(Result::is_ok));
        assert!(matches!(last, Err(Error::Unavailable { .. })), "{model}: {last:?}");
    }
}

#[tokio::test]
async fn a_slow_first_byte_times_out() {
    let (url, _) = server().await;
    let p = OpenAiCompatible::new(OpenAiSettings {
        base_url: url,
        api_key: Some("test-key".into()),
        first_byte_timeout: Duration::from_millis(300),
        idle_timeout: Duration::from_secs(5),
        retries: 0,
    })
    .unwrap();
    let started = Instant::now();
    let err = run(&p, "slow").await.unwrap_err();
    assert!(matches!(err, Error::Unavailable { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(2), "gave up at the timeout, not the server's pace");
}

/// The port's contract, against the same local server speaking the documented format.
mod conformance {
    alleato_core::model_conformance!({
        let (url, _) = super::server().await;
        alleato_core::testkit::model::ModelUnderTest::new(
            super::provider(url, std::time::Duration::from_secs(5)),
            "normal",
        )
    });
}

/// Tool calls as local servers stream them: Ollama and llama.cpp send a whole call in one
/// piece (often without an index, sometimes without an id), and a model may write arguments
/// that are not JSON.
#[tokio::test]
async fn whole_calls_in_one_piece_and_unreadable_arguments_are_passed_on() {
    use alleato_core::ports::ToolCall;
    async fn handler(Json(body): Json<Value>) -> Response {
        assert_eq!(body["tools"][0]["function"]["name"], "lookUp");
        sse(vec![
            chunk(json!({"tool_calls": [{"id": "call_1", "type": "function",
                                          "function": {"name": "lookUp", "arguments": "{\"q\":\"rivers\"}"}}]})),
            chunk(
                json!({"tool_calls": [{"type": "function", "function": {"name": "lookUp", "arguments": "not json"}}]}),
            ),
            json!({"id": "c1", "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}).to_string(),
            "[DONE]".into(),
        ])
    }
    let app = Router::new().route("/v1/chat/completions", post(handler));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let mut request = request("tools");
    request.tools.push(alleato_core::ports::ToolDefinition {
        name: "lookUp".into(),
        description: "Looks something up.".into(),
        input_schema: json!({"type": "object"}),
    });
    let provider = provider(format!("http://{addr}/v1"), Duration::from_secs(5));
    let events: Vec<ModelEvent> = provider.stream(request).await.unwrap().map(Result::unwrap).collect().await;
    let calls: Vec<&ToolCall> =
        events.iter().filter_map(|e| if let ModelEvent::ToolCall(c) = e { Some(c) } else { None }).collect();
    assert_eq!(calls.len(), 2, "{events:?}");
    assert_eq!((calls[0].id.as_str(), &calls[0].input), ("call_1", &json!({"q": "rivers"})));
    assert!(!calls[1].id.is_empty() && calls[1].id != "call_1", "an id is made up: {}", calls[1].id);
    assert_eq!(calls[1].input, json!("not json"), "passed on as text, for the caller to refuse");
    let starts = events.iter().filter(|e| matches!(e, ModelEvent::ToolInputStart { .. })).count();
    assert_eq!(starts, 2);
}

#[tokio::test]
async fn null_fields_are_absent_fields_and_lose_no_text() {
    let (url, _) = server().await;
    let events = run(&provider(url, Duration::from_secs(5)), "nulls").await.unwrap();
    let text: String = events
        .iter()
        .filter_map(|e| if let Ok(ModelEvent::TextDelta(t)) = e { Some(t.as_str()) } else { None })
        .collect();
    assert_eq!(text, "Hi there", "{events:?}");
    assert!(events.iter().all(Result::is_ok), "{events:?}");
}

/// Limits on what one answer's tool calls may hold, so a provider cannot fill the memory.
#[tokio::test]
async fn too_many_calls_or_endless_arguments_end_the_answer_with_an_error() {
    let (url, _) = server().await;
    let provider = provider(url, Duration::from_secs(5));
    for model in ["many-calls", "endless-arguments"] {
        let events = run(&provider, model).await.unwrap();
        let last = events.last().expect("events");
        assert!(matches!(last, Err(Error::Upstream { .. })), "{model}: {last:?}");
        let starts = events.iter().filter(|e| matches!(e, Ok(ModelEvent::ToolInputStart { .. }))).count();
        assert!(starts <= 64, "{model}: {starts} calls started");
        assert!(!events.iter().any(|e| matches!(e, Ok(ModelEvent::ToolCall(_)))), "{model}: no call completes");
    }
}

#[tokio::test]
async fn a_huge_index_does_not_overflow() {
    let (url, _) = server().await;
    let events = run(&provider(url, Duration::from_secs(5)), "huge-index").await.unwrap();
    let calls = events.iter().filter(|e| matches!(e, Ok(ModelEvent::ToolCall(_)))).count();
    assert_eq!(calls, 2, "{events:?}");
}
