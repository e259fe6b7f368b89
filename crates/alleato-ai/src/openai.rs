//! Any OpenAI-compatible Chat Completions endpoint, streamed.
//!
//! Wire format (OpenAI API reference, "Create chat completion" with `stream: true`): a
//! `text/event-stream` of `data: {chat.completion.chunk}` events ending with `data: [DONE]`;
//! text arrives in `choices[0].delta.content`, and the reasoning models of DeepSeek, vLLM and
//! OpenRouter send `choices[0].delta.reasoning_content` or `choices[0].delta.reasoning`. With
//! `stream_options.include_usage`, a last chunk carries `usage` and empty `choices`.
//!
//! Tools (OpenAI API reference, "Function calling", and the chat completion chunk object): the
//! request's `tools` is a list of `{type: "function", function: {name, description,
//! parameters}}`. A call streams in `choices[0].delta.tool_calls`, a list of `{index, id?,
//! type?, function: {name?, arguments?}}` pieces: the first piece of a call carries its `id`
//! and `function.name`, later ones (same `index`) more of `function.arguments`, a JSON text;
//! several calls of one answer have different indexes. The answer ends with `finish_reason:
//! "tool_calls"`. The results go back as the assistant message with its `tool_calls` (`{id,
//! type: "function", function: {name, arguments}}`), then one `{role: "tool", tool_call_id,
//! content}` message per call.

use std::time::Duration;

use alleato_core::ports::{LanguageModel, ModelEvent, ModelRequest, PromptMessage, ToolCall};
use alleato_core::{Error, Result, Surface};
use async_trait::async_trait;
use eventsource_stream::Eventsource;
use futures::stream::{self, BoxStream, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};

const S: Surface = Surface::Model;

#[derive(Debug, Clone)]
/// How to reach an OpenAI-compatible endpoint (OpenAI, Ollama, vLLM, llama.cpp, OpenRouter, Workers AI).
pub struct OpenAiSettings {
    /// e.g. `https://api.openai.com/v1`, `http://127.0.0.1:11434/v1` (Ollama).
    pub base_url: String,
    /// Sent as a bearer token; `None` for local servers that need none.
    pub api_key: Option<String>,
    /// Longest wait for the response headers, per attempt.
    pub first_byte_timeout: Duration,
    /// Longest silence between two chunks once streaming.
    pub idle_timeout: Duration,
    /// Extra attempts on 429/5xx/connection errors, only before any byte of the answer.
    pub retries: u32,
}

impl Default for OpenAiSettings {
    fn default() -> Self {
        Self {
            base_url: "https://api.openai.com/v1".into(),
            api_key: None,
            first_byte_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(120),
            retries: 2,
        }
    }
}

#[derive(Debug, Clone)]
/// A language model behind the Chat Completions API, streamed (`stream: true`), with retries before the first byte and timeouts on silence.
pub struct OpenAiCompatible {
    http: reqwest::Client,
    settings: OpenAiSettings,
}

// Lists and objects are `Option`s, not `#[serde(default)]`: providers send `null` for an absent
// field (`"tool_calls": null`), which `default` refuses, and a refused chunk loses its text.
#[derive(Deserialize)]
struct Chunk {
    choices: Option<Vec<Choice>>,
    usage: Option<Usage>,
    error: Option<ErrorBody>,
}

#[derive(Deserialize)]
struct Choice {
    delta: Option<Delta>,
    finish_reason: Option<String>,
}

#[derive(Deserialize, Default)]
struct Delta {
    content: Option<String>,
    reasoning_content: Option<String>,
    reasoning: Option<String>,
    tool_calls: Option<Vec<ToolCallDelta>>,
}

#[derive(Deserialize)]
struct ToolCallDelta {
    index: Option<usize>,
    id: Option<String>,
    function: Option<FunctionDelta>,
}

#[derive(Deserialize, Default)]
struct FunctionDelta {
    name: Option<String>,
    arguments: Option<String>,
}

/// A tool call being streamed: its pieces so far.
#[derive(Default)]
struct PendingCall {
    index: usize,
    id: String,
    name: String,
    arguments: String,
    /// Whether its start was reported (once its name is known).
    started: bool,
}

/// The tool calls of one answer as their pieces arrive.
#[derive(Default)]
struct PendingCalls(Vec<PendingCall>);

/// The most tool calls one answer may make, and the longest arguments of one call: past
/// either, the answer fails, so a provider that never ends a call cannot fill the memory.
const MAX_CALLS: usize = 64;
const MAX_ARGUMENT_BYTES: usize = 256 * 1024;

impl PendingCalls {
    /// Takes one piece, pushing the events it makes; an error when the answer passes
    /// [`MAX_CALLS`] or a call's arguments [`MAX_ARGUMENT_BYTES`].
    fn take(&mut self, piece: ToolCallDelta, out: &mut Vec<Result<ModelEvent>>) -> Result<()> {
        let id = piece.id.filter(|id| !id.is_empty());
        let function = piece.function.unwrap_or_default();
        let names_a_call = function.name.as_deref().is_some_and(|n| !n.is_empty());
        // A new call's index: after the last one, or (after a hostile `usize::MAX`) the first free.
        let next = match self.0.iter().map(|c| c.index).max() {
            None => 0,
            Some(max) => max
                .checked_add(1)
                .unwrap_or_else(|| (0..).find(|i| !self.0.iter().any(|c| c.index == *i)).unwrap_or_default()),
        };
        let index = piece.index.unwrap_or_else(|| {
            // Without an index (some local servers): a piece with a new id, or naming a tool
            // when the last call is named already, is a new call; any other continues the last.
            match (&id, self.0.last()) {
                (Some(id), _) => self.0.iter().find(|c| &c.id == id).map_or(next, |c| c.index),
                (None, Some(last)) if !names_a_call || last.name.is_empty() => last.index,
                (None, _) => next,
            }
        });
        let at = match self.0.iter().position(|c| c.index == index) {
            Some(at) => at,
            None => {
                if self.0.len() >= MAX_CALLS {
                    return Err(too_much(format!("more than {MAX_CALLS} tool calls in one answer")));
                }
                self.0.push(PendingCall { index, ..PendingCall::default() });
                self.0.len() - 1
            }
        };
        let call = &mut self.0[at];
        if let Some(id) = id
            && call.id.is_empty()
        {
            call.id = id;
        }
        if let Some(name) = function.name.filter(|n| !n.is_empty())
            && call.name.is_empty()
        {
            call.name = name;
        }
        let arguments = function.arguments.unwrap_or_default();
        if call.arguments.len() + arguments.len() > MAX_ARGUMENT_BYTES {
            return Err(too_much(format!("a tool call's arguments longer than {MAX_ARGUMENT_BYTES} bytes")));
        }
        call.arguments.push_str(&arguments);
        if !call.started && !call.name.is_empty() {
            call.started = true;
            if call.id.is_empty() {
                call.id = format!("call_{}", uuid_like(index));
            }
            out.push(Ok(ModelEvent::ToolInputStart { id: call.id.clone(), name: call.name.clone() }));
            if !call.arguments.is_empty() {
                out.push(Ok(ModelEvent::ToolInputDelta { id: call.id.clone(), delta: call.arguments.clone() }));
            }
        } else if call.started && !arguments.is_empty() {
            out.push(Ok(ModelEvent::ToolInputDelta { id: call.id.clone(), delta: arguments }));
        }
        Ok(())
    }

    /// The complete calls, in index order; arguments that are not JSON are passed on as a
    /// string, for the caller to refuse.
    fn finish(&mut self, out: &mut Vec<Result<ModelEvent>>) {
        let mut calls = std::mem::take(&mut self.0);
        calls.sort_by_key(|c| c.index);
        for call in calls.into_iter().filter(|c| c.started) {
            let input = if call.arguments.trim().is_empty() {
                json!({})
            } else {
                serde_json::from_str(&call.arguments).unwrap_or(Value::String(call.arguments))
            };
            out.push(Ok(ModelEvent::ToolCall(ToolCall { id: call.id, name: call.name, input })));
        }
    }
}

/// The error that ends an answer whose tool calls pass a limit.
fn too_much(what: String) -> Error {
    Error::Upstream { surface: S, message: format!("The model provider sent {what}.").into() }
}

/// A call id for a provider that sends none (some local servers): unique enough within a
/// process, as ids only need to be unique within one answer.
fn uuid_like(index: usize) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("{}_{index}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// The prompt in the Chat Completions shape: an assistant step that called tools is followed
/// by one `tool` message per result (a call without its result is left out: providers refuse
/// it).
fn wire_messages(messages: &[PromptMessage]) -> Vec<Value> {
    let mut wire = Vec::with_capacity(messages.len());
    for message in messages {
        let answered: Vec<_> = message
            .tool_calls
            .iter()
            .filter_map(|call| message.tool_results.iter().find(|r| r.call_id == call.id).map(|r| (call, r)))
            .collect();
        if answered.is_empty() {
            wire.push(json!({"role": message.role.as_str(), "content": message.content}));
            continue;
        }
        let calls: Vec<Value> = answered
            .iter()
            .map(|(call, _)| {
                json!({"id": call.id, "type": "function",
                       "function": {"name": call.name, "arguments": call.input.to_string()}})
            })
            .collect();
        let content = if message.content.is_empty() { Value::Null } else { Value::from(message.content.clone()) };
        wire.push(json!({"role": "assistant", "content": content, "tool_calls": calls}));
        for (call, result) in answered {
            wire.push(json!({"role": "tool", "tool_call_id": call.id, "content": result.output.to_string()}));
        }
    }
    wire
}

#[derive(Deserialize)]
struct Usage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
}

#[derive(Deserialize)]
struct ErrorBody {
    message: Option<String>,
}

#[derive(Deserialize)]
struct ErrorEnvelope {
    error: Option<ErrorBody>,
}

impl OpenAiCompatible {
    /// A client for the endpoint; fails only when the HTTP client cannot be built.
    pub fn new(settings: OpenAiSettings) -> Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| Error::backend(S, e))?;
        Ok(Self { http, settings })
    }

    fn url(&self) -> String {
        format!("{}/chat/completions", self.settings.base_url.trim_end_matches('/'))
    }

    /// One attempt: the response, if its status is a success.
    async fn attempt(&self, body: &serde_json::Value) -> std::result::Result<reqwest::Response, Attempt> {
        let mut request = self.http.post(self.url()).json(body).header("accept", "text/event-stream");
        if let Some(key) = &self.settings.api_key {
            request = request.bearer_auth(key);
        }
        let response = match tokio::time::timeout(self.settings.first_byte_timeout, request.send()).await {
            Err(_) => {
                return Err(Attempt::Retry(Error::unavailable(
                    S,
                    format!("no answer from the model provider within {:?}", self.settings.first_byte_timeout),
                )));
            }
            Ok(Err(err)) => {
                return Err(Attempt::Retry(Error::unavailable(S, format!("cannot reach the model provider: {err}"))));
            }
            Ok(Ok(response)) => response,
        };
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let text = response.text().await.unwrap_or_default();
        let detail = serde_json::from_str::<ErrorEnvelope>(&text)
            .ok()
            .and_then(|e| e.error)
            .and_then(|e| e.message)
            .map(|m| m.chars().take(200).collect::<String>())
            .unwrap_or_default();
        let code = status.as_u16();
        Err(match code {
            401 | 403 => Attempt::Fail(Error::Upstream {
                surface: S,
                message: format!("The model provider rejected the API key ({code}); check OPENAI_API_KEY.").into(),
            }),
            404 => Attempt::Fail(Error::Upstream {
                surface: S,
                message: format!("The model provider does not know this model or endpoint (404). {detail}")
                    .trim()
                    .to_owned()
                    .into(),
            }),
            429 => Attempt::Retry(Error::RateLimited {
                surface: S,
                message: "The model provider is rate limiting requests; try again shortly.".into(),
                retry_after_secs: retry_after.unwrap_or(5),
            }),
            500..=599 => Attempt::Retry(Error::unavailable(S, format!("the model provider answered {code}: {detail}"))),
            _ => Attempt::Fail(Error::Upstream {
                surface: S,
                message: format!("The model provider refused the request ({code}). {detail}").trim().to_owned().into(),
            }),
        })
    }
}

enum Attempt {
    Retry(Error),
    Fail(Error),
}

#[async_trait]
impl LanguageModel for OpenAiCompatible {
    fn describe(&self) -> String {
        format!("openai-compatible ({})", self.settings.base_url)
    }

    async fn stream(&self, request: ModelRequest) -> Result<BoxStream<'static, Result<ModelEvent>>> {
        let mut body = json!({
            "model": request.model,
            "messages": wire_messages(&request.messages),
            "stream": true,
            "stream_options": {"include_usage": true},
        });
        if !request.tools.is_empty() {
            let tools: Vec<Value> = request
                .tools
                .iter()
                .map(|t| {
                    json!({"type": "function",
                           "function": {"name": t.name, "description": t.description, "parameters": t.input_schema}})
                })
                .collect();
            body["tools"] = Value::Array(tools);
        }
        let mut attempt = 0;
        let response = loop {
            match self.attempt(&body).await {
                Ok(response) => break response,
                Err(Attempt::Retry(err)) if attempt < self.settings.retries => {
                    attempt += 1;
                    let backoff = Duration::from_millis(250 * 2u64.pow(attempt));
                    tracing::warn!(error = %err, attempt, "model request failed before any output; retrying");
                    tokio::time::sleep(backoff).await;
                }
                Err(Attempt::Retry(err) | Attempt::Fail(err)) => return Err(err),
            }
        };
        let idle = self.settings.idle_timeout;
        let events = response.bytes_stream().eventsource();
        // State: the SSE events, whether the stream ended properly ([DONE] or a finish_reason),
        // whether it is over, and the tool calls under way.
        let state = (events.boxed(), false, false, PendingCalls::default());
        Ok(stream::unfold(state, move |(mut events, mut finished, ended, mut calls)| async move {
            if ended {
                return None;
            }
            loop {
                let next = match tokio::time::timeout(idle, events.next()).await {
                    Err(_) => {
                        let err = Error::unavailable(S, format!("the model provider sent nothing for {idle:?}"));
                        return Some((vec![Err(err)], (events, finished, true, calls)));
                    }
                    Ok(next) => next,
                };
                let event = match next {
                    None if finished => {
                        let mut out = Vec::new();
                        calls.finish(&mut out);
                        return Some((out, (events, finished, true, calls)));
                    }
                    None => {
                        let err = Error::unavailable(S, "the model provider's stream ended before the answer did");
                        return Some((vec![Err(err)], (events, finished, true, calls)));
                    }
                    Some(Err(err)) => {
                        let err = Error::unavailable(S, format!("the model provider's stream was cut: {err}"));
                        return Some((vec![Err(err)], (events, finished, true, calls)));
                    }
                    Some(Ok(event)) => event,
                };
                if event.data.trim() == "[DONE]" {
                    let mut out = Vec::new();
                    calls.finish(&mut out);
                    return Some((out, (events, finished, true, calls)));
                }
                let Ok(chunk) = serde_json::from_str::<Chunk>(&event.data) else {
                    tracing::debug!(data = %event.data.chars().take(200).collect::<String>(), "skipping an unreadable chunk");
                    continue;
                };
                if let Some(error) = chunk.error {
                    let message = error.message.unwrap_or_else(|| "unknown error".into());
                    let err = Error::Upstream {
                        surface: S,
                        message: format!("The model provider failed mid-answer: {}", message.chars().take(200).collect::<String>()).into(),
                    };
                    return Some((vec![Err(err)], (events, finished, true, calls)));
                }
                let mut out = Vec::new();
                for choice in chunk.choices.unwrap_or_default().into_iter().take(1) {
                    let delta = choice.delta.unwrap_or_default();
                    if let Some(r) = delta.reasoning_content.or(delta.reasoning).filter(|r| !r.is_empty()) {
                        out.push(Ok(ModelEvent::ReasoningDelta(r)));
                    }
                    if let Some(c) = delta.content.filter(|c| !c.is_empty()) {
                        out.push(Ok(ModelEvent::TextDelta(c)));
                    }
                    for piece in delta.tool_calls.unwrap_or_default() {
                        if let Err(err) = calls.take(piece, &mut out) {
                            out.push(Err(err));
                            return Some((out, (events, finished, true, calls)));
                        }
                    }
                    if choice.finish_reason.is_some() {
                        finished = true;
                        // The calls are complete: they go before any usage chunk.
                        calls.finish(&mut out);
                    }
                }
                if let Some(usage) = chunk.usage {
                    out.push(Ok(ModelEvent::Usage { input_tokens: usage.prompt_tokens, output_tokens: usage.completion_tokens }));
                }
                if !out.is_empty() {
                    return Some((out, (events, finished, false, calls)));
                }
            }
        })
        .flat_map(stream::iter)
        .boxed())
    }
}
