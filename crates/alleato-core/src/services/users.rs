use std::sync::Arc;

use super::auth::{AuthService, Principal};
use super::password::{hash_password, verify_password};
use crate::error::{Error, Result, Surface};
use crate::model::{Email, Password, User, UserKind};
use crate::ports::{FileStore, ObjectStorage, UserStore};
use crate::time::now;

/// A change to one's own account. A guest that sets both email and password becomes regular.
#[derive(Debug, Default)]
pub struct UserUpdate {
    /// The new email, normalised and checked as [`Email::parse`] does; `Conflict` if taken.
    pub email: Option<String>,
    /// The new password, checked as [`Password::parse`] does; every other session ends.
    pub password: Option<String>,
    /// Required to change the password of an account that has one.
    pub current_password: Option<String>,
}

/// One's own account: changing its email or password, deleting it.
#[derive(Clone)]
pub struct UserService {
    users: Arc<dyn UserStore>,
    files: Arc<dyn FileStore>,
    objects: Arc<dyn ObjectStorage>,
    auth: AuthService,
}

impl UserService {
    /// The service over the user and file stores and object storage (for an account's
    /// uploads), with `auth` to renew or end sessions.
    pub fn new(
        users: Arc<dyn UserStore>,
        files: Arc<dyn FileStore>,
        objects: Arc<dyn ObjectStorage>,
        auth: AuthService,
    ) -> Self {
        Self { users, files, objects, auth }
    }

    /// Applies the change to the caller's account and returns the account as stored. A change
    /// of password keeps the caller's session and ends every other; `BadRequest` for an empty
    /// change, a guest that does not set both fields, or a missing `current_password`;
    /// `Forbidden` for a wrong one.
    pub async fn update(&self, who: &Principal, update: UserUpdate) -> Result<User> {
        if update.email.is_none() && update.password.is_none() {
            return Err(Error::bad_request(Surface::User, "Nothing to update: send email and/or password."));
        }
        let mut user = who.user.clone();
        if user.kind == UserKind::Guest && (update.email.is_none() || update.password.is_none()) {
            return Err(Error::bad_request(
                Surface::User,
                "A guest account becomes a regular one by setting both email and password.",
            ));
        }
        if let Some(email) = update.email {
            let email = Email::parse(&email)?;
            if let Some(other) = self.users.user_by_email(email.as_str()).await?
                && other.id != user.id
            {
                return Err(Error::conflict(Surface::User, "An account with this email already exists."));
            }
            user.email = email.into_inner();
        }
        let changes_password = update.password.is_some();
        if let Some(password) = update.password {
            // Whoever holds a session must also know the password to replace it: a stolen
            // token alone cannot lock the owner out.
            if let Some(stored) = user.password_hash.clone() {
                let current = update.current_password.ok_or_else(|| {
                    Error::bad_request(Surface::User, "Send `currentPassword` to change the password.")
                })?;
                let current = Password::parse(current).ok();
                if !verify_password(current, Some(stored)).await? {
                    return Err(Error::forbidden(Surface::User, "The current password is not correct."));
                }
            }
            user.password_hash = Some(hash_password(Password::parse(password)?).await?);
            user.kind = UserKind::Regular;
            // Every other session ends; this one is renewed below.
            user.sessions_valid_from = Some(now());
        }
        self.users.update_user(&user).await.map_err(|e| match e {
            Error::Conflict { .. } => Error::conflict(Surface::User, "An account with this email already exists."),
            other => other.on(Surface::User),
        })?;
        if changes_password && let Some(at) = user.sessions_valid_from {
            self.auth.renew(who, at).await?;
        }
        Ok(user)
    }

    /// Deletes the account and everything it owns, stored bytes included, and ends the session.
    pub async fn delete(&self, who: &Principal) -> Result<()> {
        let files = self.files.files_of(who.user_id()).await?;
        self.users.delete_user(who.user_id()).await.map_err(|e| e.on(Surface::User))?;
        for file in files {
            if let Err(err) = self.objects.delete(&file.storage_key).await {
                tracing::error!(key = %file.storage_key, error = %err, "orphaned object after account delete");
            }
        }
        self.auth.logout(who).await
    }
}
