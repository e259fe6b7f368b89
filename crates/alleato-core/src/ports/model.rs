use async_trait::async_trait;
use futures::stream::BoxStream;

use crate::error::Result;
use crate::model::Role;

/// One message of a prompt: plain text with a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptMessage {
    pub role: Role,
    pub content: String,
}

/// A request to a language model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelRequest {
    /// The provider's model id (e.g. `gpt-4o-mini`, `llama3.1`).
    pub model: String,
    pub messages: Vec<PromptMessage>,
}

/// What a model streams back, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelEvent {
    TextDelta(String),
    ReasoningDelta(String),
    /// Token counts, when the provider reports them (usually last).
    Usage {
        input_tokens: u64,
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
#[async_trait]
pub trait LanguageModel: Send + Sync + 'static {
    /// A short description for logs and `/health` ("mock", "openai-compatible at ...").
    fn describe(&self) -> String;

    async fn stream(&self, request: ModelRequest) -> Result<BoxStream<'static, Result<ModelEvent>>>;
}
