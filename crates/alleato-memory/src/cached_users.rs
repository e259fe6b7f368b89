use std::sync::Arc;
use std::time::Duration;

use alleato_core::Result;
use alleato_core::ids::UserId;
use alleato_core::model::User;
use alleato_core::ports::{ChangeFeed, SessionRevocation, UserStore};
use alleato_core::time::Timestamp;
use async_trait::async_trait;

use crate::read_through::ReadThrough;

/// A read-through cache of users by id in this process's memory, in front of a database whose
/// reads are metered (D1 over Cloudflare's REST API): with the session cache ([`crate::CachedKv`])
/// it makes a signed-in request's session check cost no request at all.
///
/// - A user read by id is served from memory for at most `max_age`.
/// - Writes (insert, update, delete) go to the store, then drop the cached user: this instance
///   sees a password change (which ends other sessions) or a deletion at once; other instances
///   within `max_age`, the bound the session cache already states for a logout.
/// - Reads by email (sign-in) always go to the store.
/// - [Told by a change feed](CachedUsers::told_by), other instances' writes are forgotten as
///   they are announced.
pub struct CachedUsers {
    inner: Arc<dyn UserStore>,
    cache: ReadThrough<UserId, User>,
}

/// A user's name on a change feed: the feed is shared with other caches ([`crate::CachedKv`]).
const FEED_PREFIX: &str = "user:";

impl CachedUsers {
    /// Serves user reads of `inner` from memory for up to `max_age`, holding at most `capacity` users.
    pub fn new(inner: Arc<dyn UserStore>, max_age: Duration, capacity: u64) -> Self {
        Self { inner, cache: ReadThrough::new(max_age, capacity) }
    }

    /// Announces every write here on `feed` (Redis pub/sub) and forgets the users other
    /// instances announce: a password change or a deletion reaches every instance within
    /// milliseconds instead of `max_age`. While the feed is down, reads go to the store.
    pub fn told_by(self, feed: Arc<dyn ChangeFeed>) -> Self {
        let cache = self.cache.told_by(
            feed,
            |id| format!("{FEED_PREFIX}{id}"),
            |name| name.strip_prefix(FEED_PREFIX)?.parse().ok(),
        );
        Self { cache, ..self }
    }
}

impl std::fmt::Debug for CachedUsers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedUsers").field("entries", &self.cache.len()).finish()
    }
}

#[deny(clippy::missing_trait_methods)]
#[async_trait]
impl UserStore for CachedUsers {
    async fn insert_user(&self, user: &User) -> Result<()> {
        // A new user: no instance has it cached, so no announcement (one Redis round trip less
        // per guest).
        self.cache.write_new(&user.id, self.inner.insert_user(user)).await
    }

    async fn user_by_id(&self, id: UserId) -> Result<Option<User>> {
        match self.cache.get(&id) {
            Some(user) => Ok(Some(user)),
            None => self.cache.load(id, self.inner.user_by_id(id)).await,
        }
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>> {
        self.inner.user_by_email(email).await
    }

    async fn update_user(&self, user: &User) -> Result<()> {
        self.cache.write(&user.id, self.inner.update_user(user)).await
    }

    async fn delete_user(&self, id: UserId) -> Result<()> {
        self.cache.write(&id, self.inner.delete_user(id)).await
    }

    async fn revoke_session(&self, revocation: &SessionRevocation, forget_before: Timestamp) -> Result<()> {
        self.inner.revoke_session(revocation, forget_before).await
    }

    async fn revoked_sessions(&self, since: Timestamp) -> Result<Vec<SessionRevocation>> {
        self.inner.revoked_sessions(since).await
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use alleato_core::model::UserKind;

    use super::*;

    /// Users in a map, counting reads by id.
    #[derive(Default)]
    struct Users(Mutex<HashMap<UserId, User>>, AtomicUsize);

    #[async_trait]
    impl UserStore for Users {
        async fn insert_user(&self, user: &User) -> Result<()> {
            self.0.lock().unwrap().insert(user.id, user.clone());
            Ok(())
        }
        async fn user_by_id(&self, id: UserId) -> Result<Option<User>> {
            self.1.fetch_add(1, Ordering::SeqCst);
            Ok(self.0.lock().unwrap().get(&id).cloned())
        }
        async fn user_by_email(&self, email: &str) -> Result<Option<User>> {
            Ok(self.0.lock().unwrap().values().find(|u| u.email == email).cloned())
        }
        async fn update_user(&self, user: &User) -> Result<()> {
            self.insert_user(user).await
        }
        async fn delete_user(&self, id: UserId) -> Result<()> {
            self.0.lock().unwrap().remove(&id);
            Ok(())
        }
        async fn revoke_session(&self, _: &SessionRevocation, _: Timestamp) -> Result<()> {
            Ok(())
        }
        async fn revoked_sessions(&self, _: Timestamp) -> Result<Vec<SessionRevocation>> {
            Ok(vec![])
        }
    }

    fn user() -> User {
        let id = UserId::new();
        User {
            id,
            email: format!("{id}@example.com"),
            kind: UserKind::Regular,
            password_hash: None,
            created_at: alleato_core::time::now(),
            sessions_valid_from: None,
        }
    }

    #[tokio::test]
    async fn reads_by_id_are_served_from_memory_and_writes_here_are_seen_at_once() {
        let store = Arc::new(Users::default());
        let (here, there) = (
            CachedUsers::new(store.clone(), Duration::from_millis(300), 100),
            CachedUsers::new(store.clone(), Duration::from_millis(300), 100),
        );
        let mut ada = user();
        here.insert_user(&ada).await.unwrap();
        for _ in 0..5 {
            assert_eq!(there.user_by_id(ada.id).await.unwrap().unwrap().email, ada.email);
        }
        assert_eq!(store.1.load(Ordering::SeqCst), 1, "one read, then memory");
        ada.sessions_valid_from = Some(alleato_core::time::now());
        here.update_user(&ada).await.unwrap();
        assert!(here.user_by_id(ada.id).await.unwrap().unwrap().sessions_valid_from.is_some(), "here at once");
        assert!(there.user_by_id(ada.id).await.unwrap().unwrap().sessions_valid_from.is_none(), "there: stale");
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(there.user_by_id(ada.id).await.unwrap().unwrap().sessions_valid_from.is_some(), "within max_age");
        here.delete_user(ada.id).await.unwrap();
        assert_eq!(here.user_by_id(ada.id).await.unwrap(), None);
    }
}
