use std::sync::Arc;

use super::auth::Principal;
use crate::error::{Error, Result, Surface};
use crate::ids::{DocumentId, SuggestionId};
use crate::model::{Document, DocumentKind, Suggestion};
use crate::ports::DocumentStore;
use crate::time::{Timestamp, now};

/// A document version as a client sends it to [`DocumentService::save`].
#[derive(Debug, Clone)]
pub struct NewDocument {
    /// An existing id adds a version; none starts a new document.
    pub id: Option<DocumentId>,
    /// The title, trimmed and checked by [`Document::check_title`].
    pub title: String,
    /// What the content is.
    pub kind: DocumentKind,
    /// The version's content, at most [`Document::MAX_CONTENT_BYTES`].
    pub content: String,
}

/// A suggested edit as a client sends it to [`DocumentService::suggest`] (or the
/// `requestSuggestions` tool drafts it), not yet checked.
#[derive(Debug, Clone)]
pub struct NewSuggestion {
    /// The text it would replace: 1 to [`Suggestion::MAX_TEXT_BYTES`] bytes.
    pub original_text: String,
    /// The text to put in its place: 1 to [`Suggestion::MAX_TEXT_BYTES`] bytes.
    pub suggested_text: String,
    /// Why, in words; optional, at most [`Suggestion::MAX_TEXT_BYTES`] bytes.
    pub description: Option<String>,
}

/// Documents are always private to their owner: anyone else gets `not_found:document`.
#[derive(Clone)]
pub struct DocumentService {
    documents: Arc<dyn DocumentStore>,
}

impl DocumentService {
    /// The service over the document store.
    pub fn new(documents: Arc<dyn DocumentStore>) -> Self {
        Self { documents }
    }

    /// The newest version of each of the caller's documents, most recently changed first.
    pub async fn list(&self, who: &Principal) -> Result<Vec<Document>> {
        self.documents.latest_documents(who.user_id()).await
    }

    /// Saves a new version (or a first one).
    pub async fn save(&self, who: &Principal, new: NewDocument) -> Result<Document> {
        let title = Document::check_title(&new.title)?;
        Document::check_content(&new.content)?;
        let id = match new.id {
            Some(id) => {
                // Reuse an id only for one's own document; never reveal that it exists.
                let versions = self.documents.document_versions(id).await?;
                if versions.first().is_some_and(|d| d.user_id != who.user_id()) {
                    return Err(Error::not_found(Surface::Document));
                }
                id
            }
            None => DocumentId::new(),
        };
        let document = Document {
            id,
            created_at: now(),
            title,
            kind: new.kind,
            content: Some(new.content),
            user_id: who.user_id(),
        };
        self.documents.insert_document(&document).await.map_err(|e| e.on(Surface::Document))?;
        Ok(document)
    }

    /// All versions, oldest first.
    pub async fn versions(&self, who: &Principal, id: DocumentId) -> Result<Vec<Document>> {
        let versions = self.documents.document_versions(id).await?;
        match versions.first() {
            Some(first) if first.user_id == who.user_id() => Ok(versions),
            _ => Err(Error::not_found(Surface::Document)),
        }
    }

    /// Restores the version current at `after` by deleting every later one (and its
    /// suggestions); returns the deleted versions. A time before the first version names no
    /// version to restore: that is a `Conflict`, so a document goes only by [`Self::delete`]
    /// (a client that deletes versions never loses the document by the way).
    pub async fn delete_after(&self, who: &Principal, id: DocumentId, after: Timestamp) -> Result<Vec<Document>> {
        let versions = self.versions(who, id).await?;
        if versions.first().is_some_and(|first| after < first.created_at) {
            return Err(Error::conflict(
                Surface::Document,
                "No version was current at `after`: it is before the first. To delete the document, \
                 DELETE /api/v1/documents/{id}.",
            ));
        }
        self.documents.delete_versions_after(id, after).await
    }

    /// Deletes one of the caller's documents: every version and its suggestions. Returns the
    /// deleted versions.
    pub async fn delete(&self, who: &Principal, id: DocumentId) -> Result<Vec<Document>> {
        let versions = self.versions(who, id).await?;
        // Every version is later than a moment before the first.
        let before_first = versions.first().map(|v| v.created_at - chrono::Duration::microseconds(1));
        match before_first {
            Some(at) => self.documents.delete_versions_after(id, at).await,
            None => Ok(Vec::new()),
        }
    }

    /// The suggestions on all versions of one of the caller's documents, oldest first.
    pub async fn suggestions(&self, who: &Principal, id: DocumentId) -> Result<Vec<Suggestion>> {
        self.versions(who, id).await?;
        self.documents.suggestions(id).await
    }

    /// Adds suggestions to the latest version.
    pub async fn suggest(&self, who: &Principal, id: DocumentId, new: Vec<NewSuggestion>) -> Result<Vec<Suggestion>> {
        if new.is_empty() || new.len() > 50 {
            return Err(Error::bad_request(Surface::Suggestions, "send between 1 and 50 suggestions"));
        }
        let versions = self.versions(who, id).await?;
        let latest = versions.last().ok_or_else(|| Error::not_found(Surface::Document))?;
        let out = new.into_iter().map(|s| draft_suggestion(who, latest, s)).collect::<Result<Vec<_>>>()?;
        self.store_suggestions(&out).await?;
        Ok(out)
    }

    /// Stores suggestions made by [`draft_suggestion`] (the access check was its caller's).
    pub(crate) async fn store_suggestions(&self, suggestions: &[Suggestion]) -> Result<()> {
        self.documents.insert_suggestions(suggestions).await.map_err(|e| e.on(Surface::Suggestions))
    }

    /// Marks a suggestion on one of the caller's documents resolved and returns it; one that
    /// is not on that document is `not_found:suggestions`.
    pub async fn resolve(&self, who: &Principal, id: DocumentId, suggestion: SuggestionId) -> Result<Suggestion> {
        self.versions(who, id).await?;
        let mut found = match self.documents.suggestion(suggestion).await? {
            Some(s) if s.document_id == id => s,
            _ => return Err(Error::not_found(Surface::Suggestions)),
        };
        self.documents.resolve_suggestion(suggestion).await.map_err(|e| e.on(Surface::Suggestions))?;
        found.is_resolved = true;
        Ok(found)
    }
}

/// A checked suggestion for `latest` (a version of one of `who`'s documents), not yet stored.
pub(crate) fn draft_suggestion(who: &Principal, latest: &Document, new: NewSuggestion) -> Result<Suggestion> {
    for (field, text) in [("originalText", &new.original_text), ("suggestedText", &new.suggested_text)] {
        if text.is_empty() || text.len() > Suggestion::MAX_TEXT_BYTES {
            return Err(Error::bad_request(
                Surface::Suggestions,
                format!("{field} must be 1 to {} bytes", Suggestion::MAX_TEXT_BYTES),
            ));
        }
    }
    if new.description.as_ref().is_some_and(|d| d.len() > Suggestion::MAX_TEXT_BYTES) {
        return Err(Error::bad_request(Surface::Suggestions, "description is too long"));
    }
    Ok(Suggestion {
        id: SuggestionId::new(),
        document_id: latest.id,
        document_created_at: latest.created_at,
        original_text: new.original_text,
        suggested_text: new.suggested_text,
        description: new.description,
        is_resolved: false,
        user_id: who.user_id(),
        created_at: now(),
    })
}
