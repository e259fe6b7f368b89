use std::sync::Arc;

use super::auth::{AuthService, Principal};
use super::password::hash_password;
use crate::error::{Error, Result, Surface};
use crate::model::{Email, Password, User, UserKind};
use crate::ports::{FileStore, ObjectStorage, UserStore};

/// A change to one's own account. A guest that sets both email and password becomes regular.
#[derive(Debug, Default)]
pub struct UserUpdate {
    pub email: Option<String>,
    pub password: Option<String>,
}

#[derive(Clone)]
pub struct UserService {
    users: Arc<dyn UserStore>,
    files: Arc<dyn FileStore>,
    objects: Arc<dyn ObjectStorage>,
    auth: AuthService,
}

impl UserService {
    pub fn new(
        users: Arc<dyn UserStore>,
        files: Arc<dyn FileStore>,
        objects: Arc<dyn ObjectStorage>,
        auth: AuthService,
    ) -> Self {
        Self { users, files, objects, auth }
    }

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
        if let Some(password) = update.password {
            user.password_hash = Some(hash_password(Password::parse(password)?).await?);
            user.kind = UserKind::Regular;
        }
        self.users.update_user(&user).await.map_err(|e| match e {
            Error::Conflict { .. } => Error::conflict(Surface::User, "An account with this email already exists."),
            other => other.on(Surface::User),
        })?;
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
