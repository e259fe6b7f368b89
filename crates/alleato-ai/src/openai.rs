//! Any OpenAI-compatible Chat Completions endpoint, streamed.
//!
//! Wire format (OpenAI API reference, "Create chat completion" with `stream: true`): a
//! `text/event-stream` of `data: {chat.completion.chunk}` events ending with `data: [DONE]`;
//! text arrives in `choices[0].delta.content`, and the reasoning models of DeepSeek, vLLM and
//! OpenRouter send `choices[0].delta.reasoning_content` or `choices[0].delta.reasoning`. With
//! `stream_options.include_usage`, a last chunk carries `usage` and empty `choices`.

use std::time::Duration;

use alleato_core::ports::{LanguageModel, ModelEvent, ModelRequest};
use alleato_core::{Error, Result, Surface};
use async_trait::async_trait;
use eventsource_stream::Eventsource;
use futures::stream::{self, BoxStream, StreamExt};
use serde::Deserialize;
use serde_json::json;

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

#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<Choice>,
    usage: Option<Usage>,
    error: Option<ErrorBody>,
}

#[derive(Deserialize)]
struct Choice {
    #[serde(default)]
    delta: Delta,
    finish_reason: Option<String>,
}

#[derive(Deserialize, Default)]
struct Delta {
    content: Option<String>,
    reasoning_content: Option<String>,
    reasoning: Option<String>,
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
        let messages: Vec<_> =
            request.messages.iter().map(|m| json!({"role": m.role.as_str(), "content": m.content})).collect();
        let body = json!({
            "model": request.model,
            "messages": messages,
            "stream": true,
            "stream_options": {"include_usage": true},
        });
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
        // State: the SSE events, and whether the stream ended properly ([DONE] or a finish_reason).
        Ok(stream::unfold((events.boxed(), false, false), move |(mut events, mut finished, ended)| async move {
            if ended {
                return None;
            }
            loop {
                let next = match tokio::time::timeout(idle, events.next()).await {
                    Err(_) => {
                        let err = Error::unavailable(S, format!("the model provider sent nothing for {idle:?}"));
                        return Some((vec![Err(err)], (events, finished, true)));
                    }
                    Ok(next) => next,
                };
                let event = match next {
                    None if finished => return None,
                    None => {
                        let err = Error::unavailable(S, "the model provider's stream ended before the answer did");
                        return Some((vec![Err(err)], (events, finished, true)));
                    }
                    Some(Err(err)) => {
                        let err = Error::unavailable(S, format!("the model provider's stream was cut: {err}"));
                        return Some((vec![Err(err)], (events, finished, true)));
                    }
                    Some(Ok(event)) => event,
                };
                if event.data.trim() == "[DONE]" {
                    return None;
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
                    return Some((vec![Err(err)], (events, finished, true)));
                }
                let mut out = Vec::new();
                for choice in chunk.choices.into_iter().take(1) {
                    if let Some(r) = choice.delta.reasoning_content.or(choice.delta.reasoning).filter(|r| !r.is_empty()) {
                        out.push(Ok(ModelEvent::ReasoningDelta(r)));
                    }
                    if let Some(c) = choice.delta.content.filter(|c| !c.is_empty()) {
                        out.push(Ok(ModelEvent::TextDelta(c)));
                    }
                    finished |= choice.finish_reason.is_some();
                }
                if let Some(usage) = chunk.usage {
                    out.push(Ok(ModelEvent::Usage { input_tokens: usage.prompt_tokens, output_tokens: usage.completion_tokens }));
                }
                if !out.is_empty() {
                    return Some((out, (events, finished, false)));
                }
            }
        })
        .flat_map(stream::iter)
        .boxed())
    }
}
