use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, Surface};
use crate::ids::UserId;
use crate::time::Timestamp;

/// What kind of account a user has: `guest` or `regular`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UserKind {
    /// Created without credentials; tighter entitlements.
    Guest,
    /// Registered with an email and a password.
    Regular,
}

impl UserKind {
    /// The wire and database form: `guest` or `regular`.
    pub fn as_str(self) -> &'static str {
        match self {
            UserKind::Guest => "guest",
            UserKind::Regular => "regular",
        }
    }

    /// The kind [`UserKind::as_str`] wrote; `None` for any other text.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "guest" => Some(UserKind::Guest),
            "regular" => Some(UserKind::Regular),
            _ => None,
        }
    }
}

/// A user account. The password hash never leaves the server: it is skipped when serialized.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// The user's id.
    pub id: UserId,
    /// The address signed in with, trimmed and lower-cased; a guest's is `guest-<id>`, not an
    /// address.
    pub email: String,
    /// Guest or regular (`type` on the wire).
    #[serde(rename = "type")]
    pub kind: UserKind,
    /// The password's Argon2id hash (PHC string); `None` for an account without a password (a
    /// guest's). Server-side only.
    #[serde(skip)]
    pub password_hash: Option<String>,
    /// When the account was created.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    #[serde(with = "crate::time::wire")]
    pub created_at: Timestamp,
    /// Sessions issued before this time are no longer valid (set when the password changes).
    /// Server-side only, like the hash.
    #[serde(skip)]
    pub sessions_valid_from: Option<Timestamp>,
}

/// A normalised email address: trimmed, lower-cased, plausibly shaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// The longest address, in bytes.
    pub const MAX_LEN: usize = 254;

    /// Trims and lower-cases `raw`, then checks its shape (`local@domain.tld`, no white space,
    /// at most [`Email::MAX_LEN`] bytes); `BadRequest` otherwise.
    pub fn parse(raw: &str) -> Result<Self> {
        let email = raw.trim().to_lowercase();
        let invalid = || Error::bad_request(Surface::Auth, "email must be a valid address such as name@example.com");
        if email.is_empty() || email.len() > Self::MAX_LEN || email.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(invalid());
        }
        let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && !domain.contains('@');
        if local.is_empty() || local.len() > 64 || !domain_ok {
            return Err(invalid());
        }
        Ok(Self(email))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The normalised address, owned.
    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A password as typed; checked for length only (NIST 800-63B: length over composition rules).
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

impl Password {
    /// The shortest password, in characters.
    pub const MIN_CHARS: usize = 8;
    /// Bounded so a huge body cannot make hashing expensive.
    pub const MAX_CHARS: usize = 128;

    /// `raw` unchanged if it has [`Password::MIN_CHARS`] to [`Password::MAX_CHARS`]
    /// characters; `BadRequest` otherwise.
    pub fn parse(raw: String) -> Result<Self> {
        let n = raw.chars().count();
        if !(Self::MIN_CHARS..=Self::MAX_CHARS).contains(&n) {
            return Err(Error::bad_request(
                Surface::Auth,
                format!("password must be {} to {} characters long", Self::MIN_CHARS, Self::MAX_CHARS),
            ));
        }
        Ok(Self(raw))
    }

    /// The password as typed, for hashing or verifying.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(Email::parse("  Ada@Example.COM ").unwrap().as_str(), "ada@example.com");
        for bad in ["", "ada", "ada@", "@example.com", "ada@example", "a da@example.com", "ada@.com", "ada@ex..com"] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn passwords_have_bounded_length() {
        assert!(Password::parse("short".into()).is_err());
        assert!(Password::parse("long enough".into()).is_ok());
        assert!(Password::parse("x".repeat(129)).is_err());
    }

    #[test]
    fn user_json_never_carries_the_hash() {
        let user = User {
            id: UserId::new(),
            email: "a@b.co".into(),
            kind: UserKind::Regular,
            password_hash: Some("$argon2id$secret".into()),
            created_at: crate::time::now(),
            sessions_valid_from: None,
        };
        let json = serde_json::to_string(&user).unwrap();
        assert!(!json.contains("argon2"));
        assert!(json.contains("\"type\":\"regular\""));
    }
}
