use std::sync::Arc;

use alleato_api::AdapterInfo;
use alleato_core::services::Services;

use crate::config::{RateLimitConfig, Secret};

/// Shared by every handler: the services and the few settings handlers read.
#[derive(Clone)]
pub struct AppState {
    pub services: Services,
    pub info: Arc<Info>,
}

pub struct Info {
    pub adapters: Vec<AdapterInfo>,
    pub admin_key: Option<Secret>,
    pub rate_limit: RateLimitConfig,
    pub trust_forwarded_for: bool,
}
