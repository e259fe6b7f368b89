//! Workers KV as the key-value port, over
//! `{base}/accounts/{account_id}/storage/kv/namespaces/{namespace_id}/...` (Cloudflare API
//! reference, Workers KV: "Read key-value pair", "Write key-value pair with optional metadata",
//! "Delete key-value pair", "List a Namespace's Keys"; `shared/reference/
//! cloudflare-and-test-services.md` §2):
//!
//! - read: `GET /values/{key}` answers the raw bytes, or `404` when the key is missing;
//! - write: `PUT /values/{key}?expiration_ttl={s}` with the raw bytes as the body;
//! - delete: `DELETE /values/{key}`;
//! - ping: `GET /keys?limit=10` (a `404` here means the namespace is wrong, which a read
//!   could not tell from a missing key).
//!
//! Key names go in the path percent-encoded. Workers KV is eventually consistent and takes no
//! TTL under 60 s: [`WorkersKv::CAPABILITIES`] declares both, and `alleato_memory::CachedKv` is the
//! read-through cache that keeps a session check off the API.

use std::time::Duration;

use alleato_core::ports::{Consistency, KeyValueStore, KvCapabilities, check_key};
use alleato_core::{Error, Result, Surface};
use async_trait::async_trait;

use crate::client::{Method, Request};
use crate::{ApiError, CloudflareClient};

/// One Workers KV namespace through the REST API (or the proxy Worker).
#[derive(Clone, Debug)]
pub struct WorkersKv {
    client: CloudflareClient,
    values: String,
    keys: String,
}

impl WorkersKv {
    /// What Workers KV promises (docs, KV limits and "How KV works"): no `expiration_ttl` under
    /// 60 s; a write is visible elsewhere within about 60 s (the edge caches reads that long).
    pub const CAPABILITIES: KvCapabilities = KvCapabilities {
        min_ttl: Duration::from_secs(60),
        consistency: Consistency::Eventual { within: Duration::from_secs(60) },
    };

    /// The namespace `namespace_id`, reached through `client`.
    pub fn new(client: CloudflareClient, namespace_id: &str) -> Self {
        let namespace = format!("storage/kv/namespaces/{namespace_id}");
        Self { client, values: format!("{namespace}/values"), keys: format!("{namespace}/keys") }
    }

    /// The client it calls through (its request count, its settings).
    pub fn client(&self) -> &CloudflareClient {
        &self.client
    }
}

/// Workers KV refuses the key names `.` and `..` (they would be path segments); the port's
/// other key rules are [`check_key`]'s.
fn check(key: &str) -> Result<()> {
    check_key(Surface::KeyValue, key)?;
    if key == "." || key == ".." {
        return Err(Error::bad_request(Surface::KeyValue, "Workers KV takes no key named `.` or `..`"));
    }
    Ok(())
}

/// Transport failures are `Unavailable` (a retry may succeed); a refusal or a garbled answer is
/// the backend's failure.
pub(crate) fn kv_error(err: ApiError) -> Error {
    match err {
        ApiError::Unavailable(_) => Error::unavailable(Surface::KeyValue, err),
        other => Error::backend(Surface::KeyValue, other),
    }
}

#[async_trait]
impl KeyValueStore for WorkersKv {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        check(key)?;
        self.client.bytes(Request::new(Method::GET, &self.values).key(key)).await.map_err(kv_error)
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<()> {
        check(key)?;
        let mut request = Request::new(Method::PUT, &self.values).key(key).bytes(value);
        if let Some(ttl) = ttl {
            request = request.query("expiration_ttl", Self::CAPABILITIES.ttl(ttl).as_secs());
        }
        self.client.call::<serde::de::IgnoredAny>(request).await.map_err(kv_error)?;
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<()> {
        check(key)?;
        match self.client.call::<serde::de::IgnoredAny>(Request::new(Method::DELETE, &self.values).key(key)).await {
            // Deleting a missing key succeeds, as the port's contract says, whichever way the
            // API reports it.
            Ok(_) | Err(ApiError::Rejected { status: 404, .. }) => Ok(()),
            Err(err) => Err(kv_error(err)),
        }
    }

    async fn ping(&self) -> Result<()> {
        let request = Request::new(Method::GET, &self.keys).query("limit", 10);
        self.client.call::<serde::de::IgnoredAny>(request).await.map_err(kv_error)?;
        Ok(())
    }

    /// `GET /keys?prefix=…&limit=1000`, a page per request, following `result_info.cursor`
    /// (<https://developers.cloudflare.com/api/resources/kv/subresources/namespaces/subresources/keys/methods/list/>:
    /// `result` is `[{name, expiration?, metadata?}]`). Workers KV lists expired keys no more.
    fn keys(&self, prefix: &str) -> futures::stream::BoxStream<'static, Result<String>> {
        use futures::StreamExt;
        #[derive(serde::Deserialize)]
        struct Listed {
            name: String,
        }
        let (client, path, prefix) = (self.client.clone(), self.keys.clone(), prefix.to_owned());
        futures::stream::unfold(Some(None::<String>), move |cursor| {
            let (client, path, prefix) = (client.clone(), path.clone(), prefix.clone());
            async move {
                let cursor = cursor?;
                let mut request = Request::new(Method::GET, &path).query("prefix", &prefix).query("limit", 1000);
                if let Some(cursor) = &cursor {
                    request = request.query("cursor", cursor);
                }
                let (page, next): (Vec<Result<String>>, _) = match client.list::<Listed>(request).await {
                    Ok((names, next)) => (names.into_iter().map(|l| Ok(l.name)).collect(), next.map(Some)),
                    Err(err) => (vec![Err(kv_error(err))], None),
                };
                Some((futures::stream::iter(page), next))
            }
        })
        .flatten()
        .boxed()
    }

    fn capabilities(&self) -> KvCapabilities {
        Self::CAPABILITIES
    }
}
