//! The contract of the logout records ([`crate::ports::UserStore::revoke_session`]).

use std::sync::Arc;

use chrono::Duration;

use crate::ids::SessionId;
use crate::ports::{Database, SessionRevocation};
use crate::time::now;

/// Recorded logouts read back from a time on, oldest first; recording one twice is fine, and a new
/// record drops those older than asked.
pub async fn logouts_are_recorded_for_every_instance_to_read(db: Arc<dyn Database>) {
    let t = now();
    let logout = |seconds_ago: i64| SessionRevocation {
        session: SessionId(uuid::Uuid::new_v4()),
        revoked_at: t - Duration::seconds(seconds_ago),
    };
    let (old, earlier, latest) = (logout(1200), logout(1), logout(0));
    let ours = [old.session, earlier.session, latest.session];
    let read = |since| {
        let db = db.clone();
        async move {
            let all = db.revoked_sessions(since).await.unwrap();
            all.into_iter().filter(|r| ours.contains(&r.session)).collect::<Vec<_>>()
        }
    };
    let an_hour_ago = t - Duration::hours(1);
    for r in [&old, &latest, &earlier, &latest] {
        db.revoke_session(r, an_hour_ago).await.unwrap(); // twice is fine
    }
    assert_eq!(read(t - Duration::seconds(1)).await, [earlier, latest], "from a time on, oldest first");
    assert_eq!(read(an_hour_ago).await, [old, earlier, latest]);
    // Recording one drops those older than asked.
    let next = logout(0);
    db.revoke_session(&next, t - Duration::minutes(10)).await.unwrap();
    let left: Vec<_> = db.revoked_sessions(an_hour_ago).await.unwrap().into_iter().map(|r| r.session).collect();
    assert!(!left.contains(&old.session) && left.contains(&earlier.session) && left.contains(&next.session));
}
