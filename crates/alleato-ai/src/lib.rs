//! Language-model providers for Alleato's [`LanguageModel`](alleato_core::ports::LanguageModel)
//! port:
//!
//! - [`OpenAiCompatible`]: Chat Completions with `stream: true`, for OpenAI and everything that
//!   speaks its API (Ollama, vLLM, llama.cpp server, OpenRouter, Cloudflare Workers AI).
//! - [`MockModel`]: deterministic, offline, clearly labelled; the default without an API key.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod mock;
mod mock_tools;
mod openai;

pub use mock::MockModel;
pub use openai::{OpenAiCompatible, OpenAiSettings};
