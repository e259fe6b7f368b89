use std::ops::Deref;
use std::sync::Arc;

use alleato_core::services::Services;

use crate::HttpSettings;

/// Shared by every handler: the services and the settings handlers read. Cloned for every
/// extractor of every request, so it is one `Arc`.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

pub struct Shared {
    pub services: Services,
    pub settings: HttpSettings,
}

impl AppState {
    /// The state of one application: its services and its settings.
    pub fn new(services: Services, settings: HttpSettings) -> Self {
        Self(Arc::new(Shared { services, settings }))
    }
}

impl Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}
