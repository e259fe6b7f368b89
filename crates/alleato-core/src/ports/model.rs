use async_trait::async_trait;
use futures::stream::BoxStream;
use serde_json::Value;

use crate::error::Result;
use crate::model::Role;

/// One message of a prompt: its role, its text, and, for an assistant message of a tool-using
/// step, the tools it called with each call's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptMessage {
    /// Who says it.
    pub role: Role,
    /// The message's text (may be empty for an assistant message that only called tools).
    pub content: String,
    /// The tools this (assistant) message called, in order.
    pub tool_calls: Vec<ToolCall>,
    /// The result of each call of [`Self::tool_calls`], in the same order: what the model reads
    /// before it continues.
    pub tool_results: Vec<ToolResult>,
}

impl PromptMessage {
    /// A message of plain text.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self { role, content: content.into(), tool_calls: Vec::new(), tool_results: Vec::new() }
    }
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolDefinition {
    /// The name the model calls it by (`createDocument`).
    pub name: String,
    /// What it does and when to use it, for the model.
    pub description: String,
    /// A JSON Schema (an `object` schema) of its input.
    pub input_schema: Value,
}

/// A complete tool call from the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolCall {
    /// The provider's id of the call, unique within the answer (`call_abc123`).
    pub id: String,
    /// The tool's name, as offered in [`ModelRequest::tools`].
    pub name: String,
    /// The input the model wrote. An adapter passes arguments that are not valid JSON as a
    /// JSON string of the raw text, so the caller can refuse them as a tool-input error.
    pub input: Value,
}

/// The result of one tool call, sent back to the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolResult {
    /// The [`ToolCall::id`] it answers.
    pub call_id: String,
    /// The tool's name.
    pub name: String,
    /// The tool's output, or `{"error": "..."}` when it failed.
    pub output: Value,
}

/// A request to a language model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelRequest {
    /// The provider's model id (e.g. `gpt-4o-mini`, `llama3.1`).
    pub model: String,
    /// The prompt, oldest first; usually a system message, then the conversation.
    pub messages: Vec<PromptMessage>,
    /// Tools the model may call; empty for none (titles, documents, the reasoning model).
    pub tools: Vec<ToolDefinition>,
}

impl ModelRequest {
    /// A request without tools.
    pub fn new(model: impl Into<String>, messages: Vec<PromptMessage>) -> Self {
        Self { model: model.into(), messages, tools: Vec::new() }
    }
}

/// What a model streams back, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelEvent {
    /// More of the answer's text.
    TextDelta(String),
    /// More of the model's visible reasoning (reasoning models only).
    ReasoningDelta(String),
    /// A tool call begins; its input follows as [`ModelEvent::ToolInputDelta`]s, then the
    /// complete [`ModelEvent::ToolCall`].
    ToolInputStart {
        /// The call's id.
        id: String,
        /// The tool's name.
        name: String,
    },
    /// More of a tool call's input, as raw JSON text.
    ToolInputDelta {
        /// The call's id.
        id: String,
        /// The next piece of the arguments' text.
        delta: String,
    },
    /// A tool call, complete. The step ends with the stream; when it called tools, the caller
    /// runs them and asks again with the results.
    ToolCall(ToolCall),
    /// Token counts, when the provider reports them (usually last).
    Usage {
        /// Tokens of the prompt.
        input_tokens: u64,
        /// Tokens of the answer.
        output_tokens: u64,
    },
}

/// A language model that streams its answer.
///
/// # Contract
/// - `stream` fails before the first event for errors known up front (bad key, unknown model,
///   rate limit, unreachable provider); after that, a failure is an `Err` item and ends the
///   stream.
/// - Dropping the stream cancels the upstream request.
/// - Errors: `Upstream` for a refusal (401/403/404/400), `RateLimited` for 429, `Unavailable`
///   for 5xx, timeouts and cut connections.
/// - Tools: a model only calls tools offered in [`ModelRequest::tools`]; each call it makes
///   ends with a [`ModelEvent::ToolCall`] before the stream ends (a model without tool support
///   may ignore the offer and answer in text). Results come back in the next request as an
///   assistant [`PromptMessage`] with `tool_calls` and `tool_results`.
#[async_trait]
pub trait LanguageModel: Send + Sync + 'static {
    /// A short description for logs and `/health` ("mock", "openai-compatible at ...").
    fn describe(&self) -> String;

    /// Starts the answer to `request`, streamed.
    async fn stream(&self, request: ModelRequest) -> Result<BoxStream<'static, Result<ModelEvent>>>;
}
