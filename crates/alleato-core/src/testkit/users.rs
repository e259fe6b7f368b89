//! The users contract ([`crate::ports::UserStore`]): run by the database suite on every
//! database, and alone (`users_conformance!`) on what serves only users, such as a cache in
//! front of a database.

use std::sync::Arc;

use chrono::Duration;

use crate::Error;
use crate::ids::*;
use crate::model::*;
use crate::ports::{SessionRevocation, UserStore};
use crate::time::{Timestamp, now};

pub(super) fn user_at(created_at: Timestamp) -> User {
    let id = UserId::new();
    User {
        id,
        email: format!("{}@example.com", id.as_uuid().simple()),
        kind: UserKind::Regular,
        password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()),
        created_at,
        sessions_valid_from: None,
    }
}

pub(super) async fn new_user(db: &dyn UserStore) -> User {
    let user = user_at(now());
    db.insert_user(&user).await.unwrap();
    user
}

/// A user reads back by id and by email as stored, and an update replaces its email, kind, password
/// hash and `sessions_valid_from`.
pub async fn users_round_trip(db: Arc<dyn UserStore>) {
    let user = new_user(&*db).await;
    assert_eq!(db.user_by_id(user.id).await.unwrap(), Some(user.clone()));
    assert_eq!(db.user_by_email(&user.email).await.unwrap(), Some(user.clone()));
    assert_eq!(db.user_by_id(UserId::new()).await.unwrap(), None);
    let mut changed = user.clone();
    changed.email = format!("new-{}", user.email);
    changed.kind = UserKind::Guest;
    changed.password_hash = None;
    changed.sessions_valid_from = Some(user.created_at + Duration::minutes(5));
    db.update_user(&changed).await.unwrap();
    assert_eq!(db.user_by_id(user.id).await.unwrap(), Some(changed));
    assert_eq!(db.user_by_email(&user.email).await.unwrap(), None);
}

/// Inserting or updating to a taken email, or inserting a taken id, is a `Conflict`.
pub async fn emails_are_unique(db: Arc<dyn UserStore>) {
    let first = new_user(&*db).await;
    let mut second = user_at(now());
    second.email = first.email.clone();
    assert!(matches!(db.insert_user(&second).await, Err(Error::Conflict { .. })));
    let other = new_user(&*db).await;
    let mut stolen = other.clone();
    stolen.email = first.email.clone();
    assert!(matches!(db.update_user(&stolen).await, Err(Error::Conflict { .. })));
    assert!(matches!(db.insert_user(&first).await, Err(Error::Conflict { .. })), "duplicate id");
}

/// Updating or deleting a user that does not exist is `NotFound`.
pub async fn updating_a_missing_user_is_not_found(db: Arc<dyn UserStore>) {
    let ghost = user_at(now());
    assert!(matches!(db.update_user(&ghost).await, Err(Error::NotFound { .. })));
    assert!(matches!(db.delete_user(ghost.id).await, Err(Error::NotFound { .. })));
}

/// A deleted user reads as absent by id and by email at once, and its email is free again.
pub async fn a_deleted_user_reads_as_absent(db: Arc<dyn UserStore>) {
    let user = new_user(&*db).await;
    assert!(db.user_by_id(user.id).await.unwrap().is_some(), "read once, so a cache holds it");
    db.delete_user(user.id).await.unwrap();
    assert_eq!(db.user_by_id(user.id).await.unwrap(), None);
    assert_eq!(db.user_by_email(&user.email).await.unwrap(), None);
    let mut again = user_at(now());
    again.email = user.email.clone();
    db.insert_user(&again).await.expect("the email is free again");
    assert_eq!(db.user_by_email(&user.email).await.unwrap(), Some(again));
}

/// Recorded logouts read back from a time on, oldest first; recording one twice is fine, and a new
/// record drops those older than asked.
pub async fn logouts_are_recorded_for_every_instance_to_read(db: Arc<dyn UserStore>) {
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
