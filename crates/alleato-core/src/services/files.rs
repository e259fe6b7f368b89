//! Uploads: validated by content, bytes in object storage, metadata in the database, and never
//! one without the other.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::access;
use super::auth::Principal;
use crate::error::{Error, Result, Surface};
use crate::ids::{ChatId, FileId};
use crate::model::{FileMeta, StoredObject, Visibility};
use crate::ports::{ChatStore, FileStore, ObjectStorage, SignedDownload};
use crate::time::{Timestamp, now};

/// The types a file may have, recognised by its first bytes.
pub const ALLOWED_CONTENT_TYPES: &[&str] = &["image/jpeg", "image/png", "image/gif", "image/webp", "application/pdf"];

/// How uploads and downloads behave.
#[derive(Debug, Clone, Copy)]
pub struct FileSettings {
    /// The largest file accepted, in bytes (default 10 MiB).
    pub max_bytes: u64,
    /// How long a signed download URL works, where the storage signs them; zero never offers
    /// one (downloads then always go through the server).
    pub download_url_ttl: Duration,
}

impl Default for FileSettings {
    fn default() -> Self {
        Self { max_bytes: 10 * 1024 * 1024, download_url_ttl: Duration::from_secs(300) }
    }
}

/// A URL that fetches a file's bytes straight from the storage service, until it expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadUrl {
    /// The URL; anyone holding it can fetch the bytes.
    pub url: String,
    /// `None` for a public bucket's permanent URL.
    pub expires_at: Option<Timestamp>,
}

/// An upload as received.
#[derive(Debug, Clone)]
pub struct Upload {
    /// The file name the client sent, if any; sanitised before it is kept.
    pub name: Option<String>,
    /// The type the client declared, if any; it must agree with the content.
    pub declared_type: Option<String>,
    /// The file's content.
    pub bytes: Bytes,
    /// The caller's chat to attach the file to, if any.
    pub chat_id: Option<ChatId>,
}

/// Uploaded files: storing, reading and deleting them, bytes and metadata together.
#[derive(Clone)]
pub struct FileService {
    files: Arc<dyn FileStore>,
    chats: Arc<dyn ChatStore>,
    objects: Arc<dyn ObjectStorage>,
    settings: FileSettings,
}

impl FileService {
    /// The service over the file and chat stores and object storage.
    pub fn new(
        files: Arc<dyn FileStore>,
        chats: Arc<dyn ChatStore>,
        objects: Arc<dyn ObjectStorage>,
        settings: FileSettings,
    ) -> Self {
        Self { files, chats, objects, settings }
    }

    /// The largest file accepted, in bytes.
    pub fn max_bytes(&self) -> u64 {
        self.settings.max_bytes
    }

    /// Stores an upload for the caller: the bytes, then the metadata (the bytes are removed
    /// again if the metadata fails). `BadRequest` when empty, `PayloadTooLarge` over the limit,
    /// `UnsupportedMediaType` when the content is not one of [`ALLOWED_CONTENT_TYPES`] or not the
    /// declared type; the chat, if any, must be the caller's own.
    pub async fn upload(&self, who: &Principal, upload: Upload) -> Result<FileMeta> {
        let size = upload.bytes.len() as u64;
        if size == 0 {
            return Err(Error::bad_request(Surface::File, "The file is empty."));
        }
        if size > self.settings.max_bytes {
            return Err(Error::PayloadTooLarge {
                surface: Surface::File,
                message: format!("The file is larger than the limit of {} bytes.", self.settings.max_bytes).into(),
            });
        }
        let content_type = sniff(&upload.bytes, upload.declared_type.as_deref())?;
        if let Some(chat) = upload.chat_id {
            access::owned(self.chats.chat(chat).await?, who.user_id())?;
        }
        let id = FileId::new();
        let meta = FileMeta {
            id,
            user_id: who.user_id(),
            name: sanitise_name(upload.name.as_deref(), content_type),
            content_type: content_type.to_owned(),
            size,
            storage_key: format!("files/{}/{}", who.user_id(), id),
            chat_id: upload.chat_id,
            created_at: now(),
        };
        self.objects.put(&meta.storage_key, upload.bytes, content_type).await?;
        if let Err(err) = self.files.insert_file(&meta).await {
            // Metadata failed: take the bytes back out so nothing is left half-stored.
            if let Err(cleanup) = self.objects.delete(&meta.storage_key).await {
                tracing::error!(key = %meta.storage_key, error = %cleanup, "could not remove object after failed metadata insert");
            }
            return Err(err.on(Surface::File));
        }
        Ok(meta)
    }

    /// The metadata, for the owner or for anyone when the file is in a public chat.
    pub async fn meta(&self, who: &Principal, id: FileId) -> Result<FileMeta> {
        let meta = self.files.file(id).await?.ok_or_else(|| Error::not_found(Surface::File))?;
        if meta.user_id == who.user_id() {
            return Ok(meta);
        }
        if let Some(chat) = meta.chat_id
            && let Some(chat) = self.chats.chat(chat).await?
            && chat.visibility == Visibility::Public
        {
            return Ok(meta);
        }
        Err(Error::not_found(Surface::File))
    }

    /// A URL for the bytes of `meta` (which `meta` or `upload` returned, so access was checked):
    /// a signed one when the storage signs URLs and they are enabled. A signing failure is logged
    /// and offers none: the content route still serves the file.
    ///
    /// When the bucket is served publicly ([`ObjectStorage::public_url`]), a file in a public
    /// chat gets its permanent public URL, and a private file none: a signed URL would show its
    /// key, and with it a public address that never expires.
    pub async fn download_url(&self, meta: &FileMeta) -> Option<DownloadUrl> {
        if let Some(public) = self.objects.public_url(&meta.storage_key) {
            let chat = match meta.chat_id {
                Some(chat) => self.chats.chat(chat).await.ok().flatten(),
                None => None,
            };
            let public_chat = chat.is_some_and(|c| c.visibility == Visibility::Public);
            return public_chat.then_some(DownloadUrl { url: public, expires_at: None });
        }
        let ttl = self.settings.download_url_ttl.min(SignedDownload::MAX_EXPIRES_IN);
        if ttl.is_zero() {
            return None;
        }
        let download = SignedDownload {
            expires_in: ttl,
            content_type: meta.content_type.clone(),
            content_disposition: content_disposition(&meta.name),
        };
        let expires_at = now() + ttl;
        match self.objects.signed_download_url(&meta.storage_key, &download).await {
            Ok(url) => url.map(|url| DownloadUrl { url, expires_at: Some(expires_at) }),
            Err(err) => {
                tracing::warn!(file = %meta.id, error = %err, "could not sign a download URL");
                None
            }
        }
    }

    /// The metadata and the bytes, for whoever may read the metadata ([`FileService::meta`]).
    pub async fn content(&self, who: &Principal, id: FileId) -> Result<(FileMeta, StoredObject)> {
        let meta = self.meta(who, id).await?;
        let object = self.objects.get(&meta.storage_key).await?.ok_or_else(|| {
            tracing::error!(file = %id, key = %meta.storage_key, "file metadata without bytes");
            Error::not_found(Surface::File)
        })?;
        Ok((meta, object))
    }

    /// Deletes stored bytes that no file metadata points at and that are older than
    /// `older_than`: what an upload leaves when the process dies between storing the bytes and
    /// the metadata, or a delete that failed half-way. The age keeps uploads in flight (on any
    /// instance) safe. Returns how many objects went.
    pub async fn sweep_orphans(&self, older_than: Duration) -> Result<usize> {
        use futures::StreamExt;
        let cutoff = now() - chrono::Duration::from_std(older_than).unwrap_or_default();
        let mut listing = self.objects.list("files");
        let mut removed = 0;
        while let Some(entry) = listing.next().await {
            let entry = entry?;
            if entry.last_modified > cutoff {
                continue;
            }
            // Keys are `files/{user}/{file id}`; anything else is not ours to judge.
            let Some(id) = entry.key.rsplit('/').next().and_then(|id| id.parse::<FileId>().ok()) else { continue };
            if self.files.file(id).await?.is_some() {
                continue;
            }
            self.objects.delete(&entry.key).await?;
            tracing::info!(key = %entry.key, "removed stored bytes that no file points at");
            removed += 1;
        }
        Ok(removed)
    }

    /// Deletes metadata first, then bytes: a failure between leaves unreachable bytes (logged),
    /// never metadata that points at nothing.
    pub async fn delete(&self, who: &Principal, id: FileId) -> Result<()> {
        let meta = match self.files.file(id).await? {
            Some(meta) if meta.user_id == who.user_id() => meta,
            _ => return Err(Error::not_found(Surface::File)),
        };
        self.files.delete_file(id).await.map_err(|e| e.on(Surface::File))?;
        if let Err(err) = self.objects.delete(&meta.storage_key).await {
            tracing::error!(key = %meta.storage_key, error = %err, "orphaned object after file delete");
        }
        Ok(())
    }
}

/// `inline; filename="<ascii>"; filename*=UTF-8''<percent-encoded>` (RFC 6266): how a file is
/// presented when downloaded, by the server or by the storage service through a signed URL.
pub fn content_disposition(name: &str) -> String {
    let ascii: String =
        name.chars().map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' }).collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("inline; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// The content type by magic bytes; rejects anything not allowed and any mismatch with the
/// declared type (an `application/octet-stream` declaration means "unknown" and is ignored).
fn sniff(bytes: &[u8], declared: Option<&str>) -> Result<&'static str> {
    let detected = infer::get(bytes).map(|t| t.mime_type());
    let allowed = detected.and_then(|d| ALLOWED_CONTENT_TYPES.iter().copied().find(|a| *a == d));
    let Some(content_type) = allowed else {
        return Err(Error::UnsupportedMediaType {
            surface: Surface::File,
            message: format!(
                "Unsupported file type{}; allowed: JPEG, PNG, GIF, WebP and PDF.",
                detected.map(|d| format!(" ({d})")).unwrap_or_default()
            )
            .into(),
        });
    };
    if let Some(declared) = declared {
        let declared = declared.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        let declared = if declared == "image/jpg" { "image/jpeg".to_owned() } else { declared };
        if !declared.is_empty() && declared != "application/octet-stream" && declared != content_type {
            return Err(Error::UnsupportedMediaType {
                surface: Surface::File,
                message: format!("The declared type {declared} does not match the content ({content_type}).").into(),
            });
        }
    }
    Ok(content_type)
}

/// Keeps the last path segment, drops control and quoting characters, caps the length.
fn sanitise_name(name: Option<&str>, content_type: &str) -> String {
    let base = name.unwrap_or_default().rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | '\\' | '/'))
        .take(200)
        .collect::<String>()
        .trim()
        .to_owned();
    if cleaned.is_empty() || cleaned == "." || cleaned == ".." {
        let ext = content_type.rsplit('/').next().unwrap_or("bin");
        format!("file.{ext}")
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

    #[test]
    fn content_decides_the_type() {
        assert_eq!(sniff(PNG, None).unwrap(), "image/png");
        assert_eq!(sniff(PNG, Some("image/png")).unwrap(), "image/png");
        assert_eq!(sniff(b"%PDF-1.7\n", Some("application/octet-stream")).unwrap(), "application/pdf");
        assert!(sniff(b"<html>", Some("image/png")).is_err());
        assert!(sniff(PNG, Some("image/jpeg")).is_err());
        assert!(sniff(b"MZ\x90\0", None).is_err());
    }

    #[test]
    fn names_are_sanitised() {
        assert_eq!(sanitise_name(Some("../../etc/passwd"), "image/png"), "passwd");
        assert_eq!(sanitise_name(Some("a\"b\r\n.png"), "image/png"), "ab.png");
        assert_eq!(sanitise_name(None, "image/png"), "file.png");
        assert_eq!(sanitise_name(Some(".."), "application/pdf"), "file.pdf");
    }
}
