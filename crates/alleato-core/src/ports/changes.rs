use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::error::Result;

/// What a [`ChangeFeed`] tells its listeners.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change<'a> {
    /// The entry under this key changed on some instance (this one included).
    Key(&'a str),
    /// Announcements may have been missed (the feed lost its connection, or got it back):
    /// forget everything.
    All,
}

/// Told of every change a [`ChangeFeed`] carries. Called on the feed's own task: it must not
/// block.
pub trait ChangeListener: Send + Sync + 'static {
    /// Handles one change: drops the entry (or, for [`Change::All`], everything) from the cache.
    fn changed(&self, change: Change<'_>);
}

/// Announcements of changed entries to every server instance, so that each can keep a cache in
/// its own memory (sessions, users) and still drop a changed entry within milliseconds of the
/// change: Redis pub/sub on the traditional stack.
///
/// # Contract
/// - [`ChangeFeed::announce`] reaches the listeners of every instance that is live, this one
///   included, in the order announced by one instance.
/// - While [`ChangeFeed::is_live`] is false, announcements may be lost: a cache must then not
///   serve from memory. The feed tells its listeners [`Change::All`] whenever it stops or
///   starts being live.
/// - A feed notices a broken connection within [`ChangeFeed::detects_loss_within`]: the bound
///   on a cache serving an entry whose change it missed.
#[async_trait]
pub trait ChangeFeed: Send + Sync + 'static {
    /// Announces that the entry under `key` changed; call it after the change is stored.
    async fn announce(&self, key: &str) -> Result<()>;
    /// Adds a listener for as long as the feed lives.
    fn listen(&self, listener: Arc<dyn ChangeListener>);
    /// Whether announcements are being received now.
    fn is_live(&self) -> bool;
    /// How long a lost connection may go unnoticed.
    fn detects_loss_within(&self) -> Duration;
}
