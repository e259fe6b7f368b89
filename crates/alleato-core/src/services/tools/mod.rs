//! The tools the chat model may call: `createDocument`, `updateDocument` and
//! `requestSuggestions`. Each runs as the chat's owner, through the same [`DocumentService`]
//! and access rules as the HTTP API (someone else's document is `not_found:document`, inside
//! the tool's result), and streams what it makes as transient `data-*` parts while it works.
//!
//! The prompts they send to the model are public so a test model (the mock) can recognise
//! them.

mod documents;
mod prompts;
mod suggestions;

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::mpsc;

pub use self::prompts::{DOCUMENT_PROMPT, SUGGESTIONS_PROMPT};
use super::auth::Principal;
use super::documents::DocumentService;
use crate::error::Error;
use crate::ports::{LanguageModel, PromptMessage, ToolCall, ToolDefinition};

/// `createDocument {title, kind}`: writes a new document.
pub const CREATE_DOCUMENT: &str = "createDocument";
/// `updateDocument {id, description}`: writes a new version of a document.
pub const UPDATE_DOCUMENT: &str = "updateDocument";
/// `requestSuggestions {documentId}`: stores up to five suggested edits to a document.
pub const REQUEST_SUGGESTIONS: &str = "requestSuggestions";

/// The tools offered to the chat model, with their input schemas.
pub fn definitions() -> Vec<ToolDefinition> {
    vec![
        ToolDefinition {
            name: CREATE_DOCUMENT.into(),
            description: "Create a document (an essay, an article, a piece of code or a spreadsheet) for writing \
                          or content creation; it appears beside the chat as it is written. Use it for substantial \
                          content the user will keep or reuse, not for short answers."
                .into(),
            input_schema: json!({
                "type": "object",
                "properties": {
                    "title": {"type": "string", "description": "The document's title."},
                    "kind": {"type": "string", "enum": ["text", "code", "sheet"],
                             "description": "text for prose (Markdown), code for a program, sheet for CSV data."}
                },
                "required": ["title", "kind"],
                "additionalProperties": false
            }),
        },
        ToolDefinition {
            name: UPDATE_DOCUMENT.into(),
            description: "Update a document the user created in this conversation, following a description of the \
                          change; saves a new version."
                .into(),
            input_schema: json!({
                "type": "object",
                "properties": {
                    "id": {"type": "string", "description": "The document's id."},
                    "description": {"type": "string", "description": "The change to make."}
                },
                "required": ["id", "description"],
                "additionalProperties": false
            }),
        },
        ToolDefinition {
            name: REQUEST_SUGGESTIONS.into(),
            description: "Request suggestions for improving a document's writing; they are shown to the user to \
                          accept or not."
                .into(),
            input_schema: json!({
                "type": "object",
                "properties": {
                    "documentId": {"type": "string", "description": "The document's id."}
                },
                "required": ["documentId"],
                "additionalProperties": false
            }),
        },
    ]
}

/// How one tool call ended.
#[derive(Debug)]
pub(crate) enum ToolOutcome {
    /// Its output, for the model and the stored part.
    Output(Value),
    /// The input is not what the tool takes: nothing ran.
    BadInput(String),
    /// It ran and failed; the text says why (with the error's code).
    Failed(String),
}

impl ToolOutcome {
    fn failed(err: &Error) -> Self {
        ToolOutcome::Failed(format!("{}: {}", err.code(), err.public_message()))
    }

    /// What the model reads: the output, or `{"error": ...}`.
    pub(crate) fn for_model(&self) -> Value {
        match self {
            ToolOutcome::Output(output) => output.clone(),
            ToolOutcome::BadInput(error) | ToolOutcome::Failed(error) => json!({"error": error}),
        }
    }
}

/// What a tool call runs with: who asked, the conversation so far, and where its data parts go.
pub(crate) struct ToolRun<'a> {
    pub who: &'a Principal,
    /// The prompt of the step that called the tool: documents are written with it in mind.
    pub conversation: &'a [PromptMessage],
    pub parts: mpsc::Sender<Value>,
}

impl ToolRun<'_> {
    /// Sends a transient data part to the stream.
    async fn send(&self, name: &str, data: Value) {
        // The receiver lives as long as the job that runs the tool.
        let _ = self.parts.send(super::ui_stream::transient(name, data)).await;
    }
}

/// The tools, over the ports they need.
#[derive(Clone)]
pub(crate) struct Toolbox {
    documents: DocumentService,
    model: Arc<dyn LanguageModel>,
    /// The model id that writes documents and suggestions.
    writer_model: String,
}

impl Toolbox {
    pub(crate) fn new(documents: DocumentService, model: Arc<dyn LanguageModel>, writer_model: String) -> Self {
        Self { documents, model, writer_model }
    }

    /// Runs one call. Never panics on the model's input: a bad one is [`ToolOutcome::BadInput`].
    pub(crate) async fn run(&self, call: &ToolCall, run: &ToolRun<'_>) -> ToolOutcome {
        match call.name.as_str() {
            CREATE_DOCUMENT => match input(&call.input) {
                Ok(input) => documents::create(self, input, run).await,
                Err(bad) => bad,
            },
            UPDATE_DOCUMENT => match input(&call.input) {
                Ok(input) => documents::update(self, input, run).await,
                Err(bad) => bad,
            },
            REQUEST_SUGGESTIONS => match input(&call.input) {
                Ok(input) => suggestions::request(self, input, run).await,
                Err(bad) => bad,
            },
            other => ToolOutcome::BadInput(format!(
                "There is no tool named `{}`.",
                other.chars().take(60).collect::<String>()
            )),
        }
    }
}

/// The call's input as the tool's input type.
fn input<T: DeserializeOwned>(raw: &Value) -> Result<T, ToolOutcome> {
    if !raw.is_object() {
        return Err(ToolOutcome::BadInput("The tool's input must be a JSON object.".into()));
    }
    serde_json::from_value(raw.clone()).map_err(|e| ToolOutcome::BadInput(format!("Invalid input: {e}.")))
}
