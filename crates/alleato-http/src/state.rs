use std::ops::Deref;
use std::sync::Arc;

use alleato_api::AdapterInfo;
use alleato_core::services::Services;

use alleato_core::Secret;

use crate::RateLimitConfig;

/// Shared by every handler: the services and the few settings handlers read. Cloned for every
/// extractor of every request, so it is one `Arc`.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

pub struct Shared {
    pub services: Services,
    pub info: Info,
}

pub struct Info {
    pub adapters: Vec<AdapterInfo>,
    pub admin_key: Option<Secret>,
    pub rate_limit: RateLimitConfig,
    pub trust_forwarded_for: bool,
}

impl AppState {
    /// The state of one application: its services and the settings its handlers read.
    pub fn new(services: Services, info: Info) -> Self {
        Self(Arc::new(Shared { services, info }))
    }
}

impl Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}
