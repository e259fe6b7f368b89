//! The key sessions are signed with, from the configuration or the data directory.

use std::path::Path;

use alleato_core::services::AuthSettings;
use anyhow::{Context, bail};

use super::Config;

impl Config {
    /// The key sessions are signed with: `JWT_SECRET`; else (ephemeral) a random one; else the
    /// one kept in the data directory (`jwt_secret`, mode 0600), generated on first start.
    pub fn jwt_secret(&self) -> anyhow::Result<Vec<u8>> {
        jwt_secret(self)
    }
}

fn jwt_secret(config: &Config) -> anyhow::Result<Vec<u8>> {
    if let Some(secret) = &config.auth.jwt_secret {
        if secret.expose().len() < AuthSettings::MIN_SECRET_BYTES {
            bail!("JWT_SECRET must be at least {} bytes long", AuthSettings::MIN_SECRET_BYTES);
        }
        return Ok(secret.expose().as_bytes().to_vec());
    }
    if config.ephemeral {
        return Ok(random_secret().into_bytes());
    }
    let path = config.data_dir.join("jwt_secret");
    load_or_create_secret(&path)
}

fn random_secret() -> String {
    use rand::Rng;
    let bytes: [u8; 48] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn load_or_create_secret(path: &Path) -> anyhow::Result<Vec<u8>> {
    match std::fs::read_to_string(path) {
        Ok(text) if text.trim().len() >= AuthSettings::MIN_SECRET_BYTES => return Ok(text.trim().as_bytes().to_vec()),
        Ok(_) => bail!("{} holds a secret shorter than 32 bytes; delete it or set JWT_SECRET", path.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let secret = random_secret();
    write_private(path, &secret).with_context(|| format!("writing {}", path.display()))?;
    tracing::warn!(
        path = %path.display(),
        "JWT_SECRET is not set: generated a signing key and kept it in the data directory; \
         set JWT_SECRET (the same on every instance) in production"
    );
    Ok(secret.into_bytes())
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(contents.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    #[test]
    fn a_generated_secret_is_kept_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config { data_dir: dir.path().to_path_buf(), ..Config::default() };
        let first = config.jwt_secret().unwrap();
        assert!(first.len() >= AuthSettings::MIN_SECRET_BYTES);
        assert_eq!(config.jwt_secret().unwrap(), first, "the second start reads the same key");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("jwt_secret")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_short_secret_is_refused_and_a_set_one_wins() {
        let mut config = Config { ephemeral: true, ..Config::default() };
        config.auth.jwt_secret = Some(Secret::new("short"));
        assert!(config.jwt_secret().unwrap_err().to_string().contains("at least"));
        let key = "k".repeat(AuthSettings::MIN_SECRET_BYTES);
        config.auth.jwt_secret = Some(Secret::new(key.clone()));
        assert_eq!(config.jwt_secret().unwrap(), key.into_bytes());
    }

    #[test]
    fn a_short_kept_secret_stops_the_start() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("jwt_secret"), "short").unwrap();
        let config = Config { data_dir: dir.path().to_path_buf(), ..Config::default() };
        assert!(config.jwt_secret().unwrap_err().to_string().contains("shorter than 32 bytes"));
    }
}
