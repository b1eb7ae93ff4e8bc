//! The configuration as written: every key optional, unknown keys rejected.
//! `validate.rs` turns it into [`super::Config`] with the built-in defaults filled in.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

use super::{AuthMode, ConfigError, JwtAlgorithm, LogFormat};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct File {
    #[serde(default)]
    pub(super) servicenow: ServiceNow,
    #[serde(default)]
    pub(super) database: Database,
    #[serde(default)]
    pub(super) http: Http,
    #[serde(default)]
    pub(super) admin: Admin,
    #[serde(default)]
    pub(super) outbox: Outbox,
    #[serde(default)]
    pub(super) poller: Poller,
    #[serde(default)]
    pub(super) mapping: Mapping,
    #[serde(default)]
    pub(super) log: Log,
    #[serde(default)]
    pub(super) sources: BTreeMap<String, Source>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ServiceNow {
    pub(super) instance_url: Option<String>,
    pub(super) auth: Option<AuthMode>,
    pub(super) client_id: Option<String>,
    pub(super) client_secret: Option<SecretString>,
    pub(super) client_secret_file: Option<PathBuf>,
    pub(super) username: Option<String>,
    pub(super) password: Option<SecretString>,
    pub(super) password_file: Option<PathBuf>,
    pub(super) jwt_key_file: Option<PathBuf>,
    pub(super) jwt_key_id: Option<String>,
    pub(super) jwt_subject: Option<String>,
    pub(super) jwt_algorithm: Option<JwtAlgorithm>,
    pub(super) token_encryption_key: Option<SecretString>,
    pub(super) token_encryption_key_file: Option<PathBuf>,
    #[serde(default, with = "humantime_serde")]
    pub(super) refresh_token_lifespan: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    pub(super) connect_timeout: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    pub(super) request_timeout: Option<Duration>,
    pub(super) max_concurrency: Option<usize>,
    pub(super) requests_per_second: Option<f64>,
    pub(super) ca_file: Option<PathBuf>,
    pub(super) allow_insecure_http: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Database {
    pub(super) url: Option<String>,
    pub(super) schema: Option<String>,
    pub(super) max_connections: Option<u32>,
    #[serde(default, with = "humantime_serde")]
    pub(super) busy_timeout: Option<Duration>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Http {
    pub(super) listen: Option<SocketAddr>,
    pub(super) api_keys: Option<Vec<SecretString>>,
    pub(super) api_keys_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Admin {
    pub(super) api_keys: Option<Vec<SecretString>>,
    pub(super) api_keys_file: Option<PathBuf>,
    #[serde(default, with = "humantime_serde")]
    pub(super) session_ttl: Option<Duration>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Outbox {
    pub(super) workers: Option<usize>,
    #[serde(default, with = "humantime_serde")]
    pub(super) lease: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    pub(super) idle_poll: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    pub(super) delivery_timeout: Option<Duration>,
    pub(super) batch_size: Option<usize>,
    pub(super) max_attempts: Option<u32>,
    #[serde(default, with = "humantime_serde")]
    pub(super) initial: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    pub(super) max: Option<Duration>,
    pub(super) multiplier: Option<f64>,
    pub(super) jitter: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Poller {
    pub(super) enabled: Option<bool>,
    #[serde(default, with = "humantime_serde")]
    pub(super) interval: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    pub(super) overlap: Option<Duration>,
    pub(super) page_size: Option<u32>,
    pub(super) push_secret: Option<SecretString>,
    pub(super) push_secret_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Mapping {
    pub(super) rules_dir: Option<PathBuf>,
    pub(super) local_rules_dir: Option<PathBuf>,
    pub(super) templates_dir: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Log {
    pub(super) format: Option<LogFormat>,
    pub(super) level: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Source {
    pub(super) webhook_url: Option<String>,
    pub(super) hmac_secret: Option<SecretString>,
    pub(super) hmac_secret_file: Option<PathBuf>,
}

/// Checks the file alone, so that its mistakes are reported with a line number.
pub(super) fn check_file(origin: &str, text: &str) -> Result<(), ConfigError> {
    let de = toml::Deserializer::parse(text).map_err(|e| {
        ConfigError::new(
            at_line(origin, text, &e),
            "(syntax)",
            e.message().to_owned(),
        )
    })?;
    serde_path_to_error::deserialize::<_, File>(de)
        .map(drop)
        .map_err(|err| {
            let (key, message) = describe(&err.path().to_string(), err.inner().message());
            ConfigError::new(at_line(origin, text, err.inner()), key, message)
        })
}

fn at_line(origin: &str, text: &str, err: &toml::de::Error) -> String {
    match err.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("{origin}:{line}")
        }
        None => origin.to_owned(),
    }
}

/// Puts the name of an unknown key into the key path: serde reports it in the message only.
pub(super) fn describe(path: &str, message: &str) -> (String, String) {
    let unknown = message
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split('`').next());
    match unknown {
        // serde_path_to_error already ends the path with the unknown key; older paths may not.
        Some(name) if path.ends_with(name) => (path.to_owned(), format!("unknown key ({message})")),
        Some(name) if path == "." || path.is_empty() => {
            (name.to_owned(), format!("unknown key ({message})"))
        }
        Some(name) => (format!("{path}.{name}"), format!("unknown key ({message})")),
        None => (path.to_owned(), message.to_owned()),
    }
}
