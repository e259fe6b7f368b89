//! Registration, login, guest accounts and sessions.
//!
//! A session is a signed JWT (HS256: `sub`, `jti`, `iat`, `exp`) *and* a record in the
//! key-value port under `session:{jti}`. Every request checks both, so a logout (which deletes the
//! record) revokes the token at once on every instance that shares the store.

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::password::{self, hash_password, verify_password};
use super::revocations::Revocations;
use crate::error::{Error, Result, Surface};
use crate::ids::{SessionId, UserId};
use crate::model::{Email, Password, User, UserKind};
use crate::ports::{Consistency, KeyValueStore, UserStore};
use crate::time::{Timestamp, now};

/// How sessions are signed and how long they last.
#[derive(Clone)]
pub struct AuthSettings {
    /// The HS256 key; at least 32 bytes.
    pub jwt_secret: Vec<u8>,
    /// How long a session, and its token, stays valid from sign-in.
    pub session_ttl: Duration,
    /// Where the key-value store is eventually consistent, how often this instance reads the
    /// other instances' logouts: the bound on a logout reaching it ([`Revocations`]).
    pub logout_poll: Duration,
}

impl std::fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthSettings")
            .field("jwt_secret", &"<redacted>")
            .field("session_ttl", &self.session_ttl)
            .field("logout_poll", &self.logout_poll)
            .finish()
    }
}

impl AuthSettings {
    /// The shortest signing key accepted, in bytes.
    pub const MIN_SECRET_BYTES: usize = 32;
    /// The session lifetime unless configured: 7 days.
    pub const DEFAULT_SESSION_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
}

/// Who is calling: the signed-in user and the session the request came with.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The user, as read from the database for this request.
    pub user: User,
    /// The session (the token's `jti`), which a logout ends.
    pub session_id: SessionId,
}

impl Principal {
    /// The caller's user id.
    pub fn user_id(&self) -> UserId {
        self.user.id
    }
}

/// A new session for a user.
#[derive(Debug, Clone)]
pub struct IssuedSession {
    /// The user signed in.
    pub user: User,
    /// The bearer token: a JWT (HS256) that expires with the session.
    pub token: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    jti: String,
    iat: i64,
    exp: i64,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionRecord {
    user_id: UserId,
    expires_at: Timestamp,
    /// When the session was issued, or last renewed by a password change; records written
    /// before this field existed have none.
    #[serde(default)]
    issued_at: Option<Timestamp>,
}

/// Registration, login, guest accounts, logout, and turning a bearer token into a
/// [`Principal`].
#[derive(Clone)]
pub struct AuthService {
    users: Arc<dyn UserStore>,
    kv: Arc<dyn KeyValueStore>,
    encoding: Arc<EncodingKey>,
    decoding: Arc<DecodingKey>,
    validation: Arc<Validation>,
    ttl: Duration,
    /// Logouts recorded for every instance, where the key-value store alone would let a
    /// session outlive its logout on another instance for longer than a poll.
    revocations: Option<Revocations>,
}

/// Where sessions live in the key-value store: `session:{jti}`.
pub const SESSION_KEY_PREFIX: &str = "session:";

fn session_key(id: SessionId) -> String {
    format!("{SESSION_KEY_PREFIX}{id}")
}

/// How long a stored session record has left at `now`; `None` when it has ended or is not a
/// session record. A copy of the record to another key-value store keeps it that long.
pub fn session_time_left(record: &[u8], now: Timestamp) -> Option<Duration> {
    let record: SessionRecord = serde_json::from_slice(record).ok()?;
    (record.expires_at - now).to_std().ok().filter(|left| !left.is_zero())
}

fn invalid_credentials() -> Error {
    Error::unauthorized(Surface::Auth, "Invalid email or password.")
}

fn session_ended() -> Error {
    Error::unauthorized(Surface::Auth, "The session has ended; please sign in again.")
}

fn not_signed_in() -> Error {
    Error::unauthorized(Surface::Auth, "You need to sign in before continuing.")
}

impl AuthService {
    /// The service over the user store and the key-value store that holds sessions; where
    /// the latter is eventually consistent, logouts also go through [`Revocations`].
    pub fn new(users: Arc<dyn UserStore>, kv: Arc<dyn KeyValueStore>, settings: AuthSettings) -> Self {
        let mut validation = Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "sub", "jti"]);
        validation.leeway = 5;
        let revocations = matches!(kv.capabilities().consistency, Consistency::Eventual { .. })
            .then(|| Revocations::new(users.clone(), settings.logout_poll));
        Self {
            revocations,
            users,
            kv,
            encoding: Arc::new(EncodingKey::from_secret(&settings.jwt_secret)),
            decoding: Arc::new(DecodingKey::from_secret(&settings.jwt_secret)),
            validation: Arc::new(validation),
            ttl: settings.session_ttl,
        }
    }

    /// Computes the timing-equaliser hash ahead of the first login; call it off the request path.
    pub fn warm_up() {
        password::warm_up();
    }

    /// Creates a regular account and signs it in. `BadRequest` for a malformed email or
    /// password, `Conflict` when the email is taken.
    pub async fn register(&self, email: &str, password: String) -> Result<IssuedSession> {
        let email = Email::parse(email)?;
        let password = Password::parse(password)?;
        if self.users.user_by_email(email.as_str()).await?.is_some() {
            return Err(Error::conflict(Surface::Auth, "An account with this email already exists."));
        }
        let hash = hash_password(password).await?;
        let user = User {
            id: UserId::new(),
            email: email.into_inner(),
            kind: UserKind::Regular,
            password_hash: Some(hash),
            created_at: now(),
            sessions_valid_from: None,
        };
        self.users.insert_user(&user).await.map_err(|e| match e {
            // Two registrations raced past the check above: the store's unique index decides.
            Error::Conflict { .. } => Error::conflict(Surface::Auth, "An account with this email already exists."),
            other => other,
        })?;
        self.issue(user).await
    }

    /// Signs in a regular account. Any mismatch (unknown email, wrong password, a guest) is the
    /// same `Unauthorized`, in the same time.
    pub async fn login(&self, email: &str, password: String) -> Result<IssuedSession> {
        // A malformed email or password cannot match any account; still spend the hashing time.
        let email = Email::parse(email).ok();
        let password = Password::parse(password).ok();
        let user = match &email {
            Some(email) => self.users.user_by_email(email.as_str()).await?,
            None => None,
        };
        let stored_hash = user.as_ref().and_then(|u| u.password_hash.clone());
        let matches = verify_password(password, stored_hash).await?;
        match user {
            Some(user) if matches && user.kind == UserKind::Regular => self.issue(user).await,
            _ => Err(invalid_credentials()),
        }
    }

    /// Creates a guest account (no email or password) and signs it in.
    pub async fn guest(&self) -> Result<IssuedSession> {
        let id = UserId::new();
        let user = User {
            id,
            email: format!("guest-{}", id.as_uuid().simple()),
            kind: UserKind::Guest,
            password_hash: None,
            created_at: now(),
            sessions_valid_from: None,
        };
        self.users.insert_user(&user).await?;
        self.issue(user).await
    }

    /// Ends the session: at once here and wherever the key-value store is read consistently;
    /// as the announcement arrives where it is [announced](Consistency::Announced); where it is
    /// eventually consistent, within a poll of [`Revocations`].
    pub async fn logout(&self, principal: &Principal) -> Result<()> {
        if let Some(revocations) = &self.revocations {
            revocations.revoke(principal.session_id).await?;
        }
        self.kv.delete(&session_key(principal.session_id)).await
    }

    /// The logouts this instance must read from the others, when its key-value store is
    /// eventually consistent: the server runs [`Revocations::run`] beside it.
    pub fn revocations(&self) -> Option<&Revocations> {
        self.revocations.as_ref()
    }

    /// Resolves a bearer token to its principal; fails unless the signature, expiry, session
    /// record and user all check out.
    pub async fn authenticate(&self, token: &str) -> Result<Principal> {
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| Error::unauthorized(Surface::Auth, "The token is invalid or has expired."))?
            .claims;
        let session_id: SessionId = claims.jti.parse().map_err(|_| not_signed_in())?;
        let user_id: UserId = claims.sub.parse().map_err(|_| not_signed_in())?;
        if self.revocations.as_ref().is_some_and(|r| r.is_revoked(session_id)) {
            return Err(session_ended());
        }
        let record = self.kv.get(&session_key(session_id)).await?.ok_or_else(session_ended)?;
        let record: SessionRecord =
            serde_json::from_slice(&record).map_err(|e| Error::backend(Surface::KeyValue, e))?;
        if record.user_id != user_id {
            return Err(not_signed_in());
        }
        let user = self.users.user_by_id(user_id).await?.ok_or_else(not_signed_in)?;
        if let Some(valid_from) = user.sessions_valid_from
            && record.issued_at.is_none_or(|issued| issued < valid_from)
        {
            return Err(Error::unauthorized(
                Surface::Auth,
                "The password was changed since this session began; please sign in again.",
            ));
        }
        Ok(Principal { user, session_id })
    }

    async fn issue(&self, user: User) -> Result<IssuedSession> {
        let issued_at = now();
        let expires_at = issued_at + chrono::Duration::from_std(self.ttl).unwrap_or(chrono::Duration::days(7));
        let session_id = SessionId(uuid::Uuid::new_v4());
        let claims = Claims {
            sub: user.id.to_string(),
            jti: session_id.to_string(),
            iat: issued_at.timestamp(),
            exp: expires_at.timestamp(),
            kind: user.kind.as_str().to_owned(),
        };
        let token = jsonwebtoken::encode(&Header::new(jsonwebtoken::Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| Error::backend(Surface::Auth, e))?;
        let record = SessionRecord { user_id: user.id, expires_at, issued_at: Some(issued_at) };
        self.store_session(session_id, &record, self.ttl).await?;
        Ok(IssuedSession { user, token })
    }

    async fn store_session(&self, id: SessionId, record: &SessionRecord, ttl: Duration) -> Result<()> {
        let bytes = serde_json::to_vec(record).map_err(|e| Error::backend(Surface::Auth, e))?;
        self.kv.set(&session_key(id), &bytes, Some(ttl)).await
    }

    /// Keeps the caller's own session valid across a change that ends every session issued
    /// before `at` (a password change): its record is renewed as of `at`, same expiry.
    pub(crate) async fn renew(&self, principal: &Principal, at: Timestamp) -> Result<()> {
        let key = session_key(principal.session_id);
        let Some(bytes) = self.kv.get(&key).await? else { return Err(not_signed_in()) };
        let mut record: SessionRecord =
            serde_json::from_slice(&bytes).map_err(|e| Error::backend(Surface::KeyValue, e))?;
        record.issued_at = Some(at);
        let left = (record.expires_at - now()).to_std().unwrap_or_default().max(Duration::from_secs(1));
        self.store_session(principal.session_id, &record, left).await
    }
}
