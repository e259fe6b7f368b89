//! Reading the configuration in: defaults, the file, the environment (with the design
//! document's names), and printing it back with secrets redacted.

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use figment::util::nest;
use figment::value::Value;

use super::Config;

/// The design document's environment names and where each lands in [`Config`]. Later entries
/// win, so `DATABASE_URL` overrides its alias `POSTGRES_URL`.
const ENV_NAMES: &[(&str, &str)] = &[
    ("ALLEATO_ADDR", "addr"),
    ("ALLEATO_DATA_DIR", "data_dir"),
    ("CORS_ORIGINS", "cors_origins"),
    ("JWT_SECRET", "auth.jwt_secret"),
    ("ADMIN_API_KEY", "admin.api_key"),
    ("RATE_LIMIT_ENABLED", "rate_limit.enabled"),
    ("USE_CLOUDFLARE", "cloudflare.use_cloudflare"),
    ("USE_CLOUDFLARE_DATABASE", "cloudflare.use_cloudflare_database"),
    ("USE_CLOUDFLARE_STORAGE", "cloudflare.use_cloudflare_storage"),
    ("USE_CLOUDFLARE_STREAMS", "cloudflare.use_cloudflare_streams"),
    ("CLOUDFLARE_ACCOUNT_ID", "cloudflare.account_id"),
    ("CLOUDFLARE_API_TOKEN", "cloudflare.api_token"),
    ("CLOUDFLARE_D1_DATABASE_ID", "cloudflare.d1_database_id"),
    ("CLOUDFLARE_KV_NAMESPACE_ID", "cloudflare.kv_namespace_id"),
    ("CLOUDFLARE_API_BASE_URL", "cloudflare.api_base_url"),
    ("R2_BUCKET", "cloudflare.r2_bucket"),
    ("R2_ACCESS_KEY_ID", "cloudflare.r2_access_key_id"),
    ("R2_SECRET_ACCESS_KEY", "cloudflare.r2_secret_access_key"),
    ("R2_ENDPOINT", "cloudflare.r2_endpoint"),
    ("R2_PUBLIC_URL", "cloudflare.r2_public_url"),
    ("POSTGRES_URL", "database.url"),
    ("DATABASE_URL", "database.url"),
    ("REDIS_URL", "redis.url"),
    ("S3_BUCKET", "storage.s3_bucket"),
    ("S3_ENDPOINT", "storage.s3_endpoint"),
    ("S3_REGION", "storage.s3_region"),
    ("AWS_ACCESS_KEY_ID", "storage.s3_access_key_id"),
    ("AWS_SECRET_ACCESS_KEY", "storage.s3_secret_access_key"),
    ("S3_FORCE_PATH_STYLE", "storage.s3_force_path_style"),
    ("OPENAI_API_KEY", "ai.openai_api_key"),
    ("OPENAI_BASE_URL", "ai.openai_base_url"),
    ("AI_PROVIDER", "ai.provider"),
    ("AI_CHAT_MODEL", "ai.chat_model"),
    ("AI_REASONING_MODEL", "ai.reasoning_model"),
    ("AI_TITLE_MODEL", "ai.title_model"),
    ("AI_DOCUMENT_MODEL", "ai.document_model"),
    ("AI_TOOLS", "ai.tools"),
    ("AI_MOCK_CHUNK_DELAY_MS", "ai.mock_chunk_delay_ms"),
    ("AI_MOCK_REPLY_WORDS", "ai.mock_reply_words"),
    ("DUAL_WRITE_SECONDARY", "dual_write.secondary"),
    ("DUAL_WRITE_SHADOW_READS", "dual_write.shadow_reads"),
    ("DUAL_WRITE_REPAIR_LOG", "dual_write.repair_log"),
];

impl Config {
    /// Defaults, then the config file, then the environment.
    pub fn figment() -> Figment {
        let vars: Vec<(String, String)> = std::env::vars_os()
            .map(|(k, v)| (k.to_string_lossy().into_owned(), v.to_string_lossy().into_owned()))
            .collect();
        Self::figment_from(&vars)
    }

    /// [`Config::figment`] over the variables given instead of the process's environment: how
    /// `alleato migrate` reads each side's env file exactly as the server would read it.
    ///
    /// `ALLEATO_SECTION__KEY` sets `section.key` (names are case-insensitive, values parsed as
    /// figment's `Env` parses them); the design document's names (`ENV_NAMES`) apply after,
    /// unless empty.
    pub fn figment_from(vars: &[(String, String)]) -> Figment {
        let var = |name: &str| vars.iter().rev().find(|(k, _)| k.trim() == name).map(|(_, v)| v.clone());
        let file = var("ALLEATO_CONFIG").unwrap_or_else(|| "config/default.toml".to_owned());
        let mut figment = Figment::from(Serialized::defaults(Config::default())).merge(Toml::file(file));
        for (name, value) in vars {
            let name = name.trim().to_ascii_lowercase();
            let Some(rest) = name.strip_prefix("alleato_") else { continue };
            if ["addr", "data_dir", "config"].contains(&rest) {
                continue;
            }
            let key = rest.replace("__", ".");
            if key.is_empty() || key.split('.').any(str::is_empty) {
                continue;
            }
            let parsed: Value = value.parse().unwrap_or_else(|never| match never {});
            figment = figment.merge(Serialized::defaults(nest(&key, parsed)));
        }
        for (name, key) in ENV_NAMES {
            // Unset and empty variables both mean "not configured".
            if let Some(value) = var(name).filter(|v| !v.trim().is_empty()) {
                let parsed: Value = value.trim().parse().unwrap_or_else(|never| match never {});
                figment = figment.merge(Serialized::defaults(nest(key, parsed)));
            }
        }
        figment
    }

    /// The configuration an env file gives (`KEY=value` lines, as `.env.example`), read as the
    /// server reads its environment; nothing else from the process's environment applies.
    pub fn from_env_file(path: &std::path::Path) -> anyhow::Result<Self> {
        let vars = Self::env_file_vars(path)?;
        Self::figment_from(&vars).extract().map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }

    /// The `KEY=value` pairs of an env file, in order (a later line wins over an earlier one).
    pub fn env_file_vars(path: &std::path::Path) -> anyhow::Result<Vec<(String, String)>> {
        use anyhow::Context;
        dotenvy::from_path_iter(path)
            .with_context(|| format!("reading {}", path.display()))?
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("parsing {}", path.display()))
    }

    /// The configuration of this process: [`Config::figment`] extracted; an unknown key or a
    /// value of the wrong type is an error.
    pub fn load() -> Result<Self, Box<figment::Error>> {
        Self::figment().extract().map_err(Box::new)
    }

    /// The effective configuration as TOML, secrets redacted (`alleato print-config`).
    pub fn to_redacted_toml(&self) -> String {
        let value = serde_json::to_value(self).unwrap_or_default();
        let mut out = String::new();
        render_toml(&value, "", &mut out);
        out
    }
}

/// A small TOML renderer for the config's shape (tables of scalars and string lists).
fn render_toml(value: &serde_json::Value, table: &str, out: &mut String) {
    let serde_json::Value::Object(map) = value else { return };
    let mut nested = Vec::new();
    for (key, v) in map {
        match v {
            serde_json::Value::Object(_) => nested.push((key, v)),
            serde_json::Value::Null => out.push_str(&format!("# {key} = (unset)\n")),
            other => out.push_str(&format!("{key} = {other}\n")),
        }
    }
    for (key, v) in nested {
        let name = if table.is_empty() { key.clone() } else { format!("{table}.{key}") };
        out.push_str(&format!("\n[{name}]\n"));
        render_toml(v, &name, out);
    }
}

#[cfg(test)]
// figment's Jail fixes the closure's error type; its size is not ours to choose.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;
    use crate::config::Secret;

    #[test]
    fn environment_names_of_the_design_document_apply() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("ALLEATO_CONFIG", "missing.toml");
            jail.set_env("USE_CLOUDFLARE_STORAGE", "true");
            jail.set_env("POSTGRES_URL", "postgres://alias");
            jail.set_env("CORS_ORIGINS", "https://a.example, https://b.example");
            jail.set_env("RATE_LIMIT_ENABLED", "false");
            jail.set_env("ALLEATO_RATE_LIMIT__AUTH_PER_MINUTE", "3");
            jail.set_env("JWT_SECRET", "s3cret-s3cret-s3cret-s3cret-s3cret!");
            jail.set_env("CLOUDFLARE_API_TOKEN", "cf-token-value");
            jail.set_env("CLOUDFLARE_ACCOUNT_ID", "0123456789abcdef");
            let config = Config::load().map_err(|e| e.to_string())?;
            assert_eq!(config.cloudflare.use_cloudflare_storage, Some(true));
            assert_eq!(config.cloudflare.use_cloudflare, None);
            assert_eq!(config.database.url.as_ref().map(Secret::expose), Some("postgres://alias"));
            assert_eq!(config.cors_origins, vec!["https://a.example", "https://b.example"]);
            assert!(!config.rate_limit.enabled);
            assert_eq!(config.rate_limit.auth_per_minute, 3);
            jail.set_env("DATABASE_URL", "postgres://main");
            let config = Config::load().map_err(|e| e.to_string())?;
            assert_eq!(config.database.url.as_ref().map(Secret::expose), Some("postgres://main"), "DATABASE_URL wins");
            assert_eq!(config.cloudflare.account_id.as_deref(), Some("0123456789abcdef"));
            assert_eq!(config.cloudflare.api_token.as_ref().map(Secret::expose), Some("cf-token-value"));
            let printed = config.to_redacted_toml();
            assert!(!printed.contains("s3cret") && !printed.contains("postgres://main"), "{printed}");
            assert!(!printed.contains("cf-token-value") && printed.contains("0123456789abcdef"), "{printed}");
            Ok(())
        });
    }

    #[test]
    fn the_shipped_config_file_documents_every_key() {
        figment::Jail::expect_with(|_| {
            let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/default.toml");
            let from_file: Config = Figment::new().merge(Toml::file(shipped)).extract().map_err(|e| e.to_string())?;
            let defaults = serde_json::to_value(Config::default()).unwrap();
            assert_eq!(serde_json::to_value(from_file).unwrap(), defaults, "config/default.toml matches the defaults");
            Ok(())
        });
    }
}
