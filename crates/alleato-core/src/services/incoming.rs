//! Rules for the parts of a message a client sends, beyond their shape (which
//! [`MessagePart`] checks): how much of them counts towards the length limit, and where a file
//! part may point. Stored messages are not re-checked, so tightening a rule never makes old
//! chats unreadable.

use serde_json::Value;

use super::files::ALLOWED_CONTENT_TYPES;
use crate::error::{Error, Result, Surface};
use crate::model::{MessagePart, PartKind};

/// Characters a part contributes towards the message length limit: every string in it, at any
/// depth, except a file part's `url` (its size is bounded by the request body limit, and a
/// `data:` URL of an image is long by nature).
pub(crate) fn counted_chars(part: &MessagePart) -> usize {
    let is_file = part.kind() == PartKind::File;
    part.as_json()
        .iter()
        .filter(|(key, _)| !(is_file && key.as_str() == "url"))
        .map(|(key, value)| key.chars().count() + chars_in(value))
        .sum()
}

fn chars_in(value: &Value) -> usize {
    match value {
        Value::String(s) => s.chars().count(),
        Value::Array(items) => items.iter().map(chars_in).sum(),
        Value::Object(map) => map.iter().map(|(k, v)| k.chars().count() + chars_in(v)).sum(),
        Value::Null | Value::Bool(_) | Value::Number(_) => 1,
    }
}

/// A file part may point at the web (`https:`, `http:`), carry an allowed type inline
/// (`data:image/png;base64,...`), or name a file of this server (`/api/v1/files/...`).
/// Anything else (`javascript:`, `file:`, `data:text/html`) would be loaded by clients that
/// render the chat, including other users' clients for a shared chat.
pub(crate) fn check_file_part(part: &MessagePart) -> Result<()> {
    let url = part.get("url").and_then(Value::as_str).unwrap_or_default();
    let lower = url.trim_start().chars().take(64).collect::<String>().to_ascii_lowercase();
    let allowed = if let Some(rest) = lower.strip_prefix("data:") {
        // A data: URL always has a `,` before its data (RFC 2397), so the type ends at `;` or `,`.
        rest.split_once([';', ',']).is_some_and(|(media, _)| ALLOWED_CONTENT_TYPES.contains(&media))
    } else {
        lower.starts_with("https://") || lower.starts_with("http://") || lower.starts_with("/api/v1/files/")
    };
    if allowed {
        return Ok(());
    }
    Err(Error::bad_request(
        Surface::Message,
        format!(
            "A file part's url must be https:, http:, a file of this server (/api/v1/files/...), or a data: URL \
             of one of: {}.",
            ALLOWED_CONTENT_TYPES.join(", ")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn part(value: Value) -> MessagePart {
        MessagePart::from_value(value).unwrap()
    }

    fn file(url: &str) -> MessagePart {
        part(json!({"type": "file", "mediaType": "image/png", "url": url}))
    }

    #[test]
    fn every_part_counts_towards_the_limit() {
        let long = "x".repeat(1000);
        assert!(counted_chars(&part(json!({"type": "reasoning", "text": long}))) >= 1000);
        assert!(counted_chars(&part(json!({"type": "data-note", "data": {"nested": [long]}}))) >= 1000);
        // A file's inline bytes are bounded elsewhere; its other fields count.
        let inline = format!("data:image/png;base64,{long}");
        assert!(counted_chars(&file(&inline)) < 100);
    }

    #[test]
    fn file_urls_are_limited_to_safe_schemes() {
        for ok in [
            "https://example.com/a.png",
            "HTTP://example.com/a.png",
            "data:image/png;base64,iVBORw0KGgo=",
            "/api/v1/files/0190e0a0-0000-7000-8000-000000000001/content",
        ] {
            check_file_part(&file(ok)).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in [
            "javascript:alert(1)",
            " JavaScript:alert(1)",
            "data:text/html;base64,PHNjcmlwdD4=",
            "data:image/png",
            "file:///etc/passwd",
            "//evil.example/a.png",
            "",
        ] {
            let err = check_file_part(&file(bad)).unwrap_err();
            assert_eq!(err.code(), "bad_request:message", "{bad}");
        }
    }
}
