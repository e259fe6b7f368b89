//! Logouts made known to every instance in bounded time, where sessions live in an eventually
//! consistent key-value store (Workers KV: a delete can take a minute or more to reach other
//! locations, and each instance also serves what it read from memory for a while).
//!
//! The instance that takes a logout deletes the session record (and forgets it at once) and
//! records the logout in the database, which every instance reads consistently. Every instance
//! reads the logouts recorded since its last look every `poll`, and refuses those sessions
//! whatever its key-value store still answers: a logout reaches every instance within `poll`
//! and one database round trip. A logout is remembered for [`Revocations::KEEP`], time enough
//! for the store to catch up (Workers KV documents about 60 s). On Cloudflare D1 that is one
//! request per instance per `poll`, whatever the traffic.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::error::Result;
use crate::ids::SessionId;
use crate::ports::{SessionRevocation, UserStore};
use crate::time::{Timestamp, now};

/// Looks overlap by this much, for a logout recorded by a clock a little behind this one's, or
/// committed a moment after its time was taken.
const OVERLAP: chrono::Duration = chrono::Duration::seconds(30);

/// The recent logouts of every instance. See the module's documentation.
#[derive(Clone)]
pub struct Revocations {
    users: Arc<dyn UserStore>,
    poll: Duration,
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    /// Revoked sessions and when.
    revoked: HashMap<SessionId, Timestamp>,
    /// When the last look started: the next one reads from a little before it.
    looked_at: Option<Timestamp>,
}

impl Revocations {
    /// How long a logout is remembered (in the database and in every instance's memory).
    pub const KEEP: Duration = Duration::from_secs(600);

    /// Logouts recorded in `users`, read every `poll` (at least 1 s).
    pub fn new(users: Arc<dyn UserStore>, poll: Duration) -> Self {
        Self { users, poll: poll.max(Duration::from_secs(1)), state: Arc::default() }
    }

    /// How often [`Revocations::run`] looks: the bound on a logout reaching other instances.
    pub fn poll_every(&self) -> Duration {
        self.poll
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn keep() -> chrono::Duration {
        chrono::Duration::from_std(Self::KEEP).unwrap_or(chrono::Duration::MAX)
    }

    /// Records a logout: refused here at once, and on other instances at their next look.
    pub async fn revoke(&self, session: SessionId) -> Result<()> {
        let at = now();
        self.state().revoked.insert(session, at);
        self.users.revoke_session(&SessionRevocation { session, revoked_at: at }, at - Self::keep()).await
    }

    /// Whether this instance knows the session was logged out (here, or elsewhere as of its
    /// last look).
    pub fn is_revoked(&self, session: SessionId) -> bool {
        self.state().revoked.contains_key(&session)
    }

    /// Reads the logouts recorded since the last look (the last [`Revocations::KEEP`] on the
    /// first); returns how many were new here.
    pub async fn look(&self) -> Result<usize> {
        let started = now();
        let since = self.state().looked_at.map_or(started - Self::keep(), |at| at - OVERLAP);
        let found = self.users.revoked_sessions(since).await?;
        let mut state = self.state();
        let new = found.iter().filter(|r| state.revoked.insert(r.session, r.revoked_at).is_none()).count();
        let forget_before = started - Self::keep();
        state.revoked.retain(|_, at| *at >= forget_before);
        state.looked_at = Some(started);
        Ok(new)
    }

    /// Looks every [`Revocations::poll_every`], for as long as the task runs; a failed look is
    /// logged and the next one reads from where the last good one did.
    pub async fn run(self) {
        loop {
            match self.look().await {
                Ok(0) => {}
                Ok(new) => tracing::debug!(new, "logouts from other instances"),
                Err(err) => {
                    tracing::warn!(error = %err, "could not read the recent logouts; retrying at the next poll")
                }
            }
            crate::rt::sleep(self.poll).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use async_trait::async_trait;

    use super::*;
    use crate::ids::UserId;
    use crate::model::User;

    /// Logout records only: what two instances share here.
    #[derive(Default)]
    struct Logouts(Mutex<Vec<SessionRevocation>>);

    #[async_trait]
    impl UserStore for Logouts {
        async fn insert_user(&self, _: &User) -> Result<()> {
            unimplemented!("not used by revocations")
        }
        async fn user_by_id(&self, _: UserId) -> Result<Option<User>> {
            unimplemented!("not used by revocations")
        }
        async fn user_by_email(&self, _: &str) -> Result<Option<User>> {
            unimplemented!("not used by revocations")
        }
        async fn update_user(&self, _: &User) -> Result<()> {
            unimplemented!("not used by revocations")
        }
        async fn delete_user(&self, _: UserId) -> Result<()> {
            unimplemented!("not used by revocations")
        }
        async fn revoke_session(&self, revocation: &SessionRevocation, forget_before: Timestamp) -> Result<()> {
            let mut all = self.0.lock().unwrap();
            all.retain(|r| r.revoked_at >= forget_before);
            all.push(*revocation);
            Ok(())
        }
        async fn revoked_sessions(&self, since: Timestamp) -> Result<Vec<SessionRevocation>> {
            Ok(self.0.lock().unwrap().iter().filter(|r| r.revoked_at >= since).copied().collect())
        }
    }

    fn session() -> SessionId {
        SessionId(uuid::Uuid::new_v4())
    }

    #[tokio::test]
    async fn a_logout_is_refused_at_once_here_and_after_a_look_elsewhere() {
        let store = Arc::new(Logouts::default());
        let (here, elsewhere) =
            (Revocations::new(store.clone(), Duration::from_secs(1)), Revocations::new(store, Duration::from_secs(1)));
        let (ended, other) = (session(), session());
        here.revoke(ended).await.unwrap();
        assert!(here.is_revoked(ended) && !here.is_revoked(other));
        assert!(!elsewhere.is_revoked(ended), "not before the other instance looks");
        assert_eq!(elsewhere.look().await.unwrap(), 1);
        assert!(elsewhere.is_revoked(ended) && !elsewhere.is_revoked(other));
        assert_eq!(elsewhere.look().await.unwrap(), 0, "a logout is new only once");
    }

    #[tokio::test]
    async fn logouts_older_than_what_is_kept_are_not_read() {
        let store = Arc::new(Logouts::default());
        let old = SessionRevocation { session: session(), revoked_at: now() - Revocations::keep() * 2 };
        store.0.lock().unwrap().push(old);
        let fresh = Revocations::new(store, Duration::from_secs(1));
        assert_eq!(fresh.look().await.unwrap(), 0);
        assert!(!fresh.is_revoked(old.session));
    }
}
