//! The chat web app: `GET /` (and `/chat/{id}`, so a shared link opens the app), and its files
//! under `/assets/`. A client of the public `/api/v1` like any other, in plain JavaScript
//! modules with no build step, embedded in the binary (`web/`). Nothing it loads comes from
//! elsewhere, and the Content-Security-Policy says so: no inline script or style, no other
//! origin, no framing.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::state::AppState;

#[derive(rust_embed::RustEmbed)]
#[folder = "web/"]
struct Files;

/// What the app's pages may load: scripts, styles and fonts from this origin only; images from
/// here or made by the app itself (`blob:` previews of uploads fetched with the session token,
/// `data:` for the icon); requests to this origin only.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' blob: data:; connect-src 'self'; font-src 'self'; manifest-src 'self'; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

pub fn routes() -> Router<AppState> {
    Router::new().route("/", get(index)).route("/chat/{id}", get(index)).route("/assets/{*path}", get(asset))
}

async fn index(headers: HeaderMap) -> Response {
    file("index.html", &headers)
}

async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    // Names as the app's files are named, and nothing else: in a debug build the files are read
    // from disk, and `..%2F..%2FCargo.toml` must not climb out of `web/`.
    let plain = path.split('/').all(|segment| {
        !segment.is_empty()
            && !segment.starts_with('.')
            && segment.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
    });
    if !plain {
        return crate::error::ApiError::not_found_route().into_response();
    }
    file(&format!("assets/{path}"), &headers)
}

/// One embedded file, revalidated by its hash: every response says `no-cache`, so a new build's
/// files are seen at once, and an unchanged file costs a 304.
fn file(path: &str, request: &HeaderMap) -> Response {
    let Some(file) = Files::get(path) else {
        return crate::error::ApiError::not_found_route().into_response();
    };
    let hash = file.metadata.sha256_hash();
    let etag = format!("\"{:032x}\"", u128::from_be_bytes(hash[..16].try_into().unwrap_or_default()));
    let mut headers = HeaderMap::new();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    let unchanged = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == etag));
    if unchanged {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(path)));
    (headers, file.data.into_owned()).into_response()
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}
