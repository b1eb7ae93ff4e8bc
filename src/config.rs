//! Service configuration: TOML file, `SNOWSYNC_<SECTION>__<KEY>` overrides, secrets.
//!
//! Everything is validated here, at load, so that `check` runs exactly the code `serve` does.
//! This module never logs or prints a secret; `Debug` of every secret shows `[REDACTED]`.

mod env;
pub mod paths;
mod raw;
mod validate;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;
use url::Url;

/// Where the configuration is read from when `--config` is not given.
pub const DEFAULT_CONFIG_PATH: &str = "config/snowsync.toml";

/// A configuration problem, naming where it came from, the key and what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{origin}: {key}: {message}")]
pub struct ConfigError {
    /// The file (with its line when known), an environment variable, or `built-in defaults`.
    pub origin: String,
    /// The dotted key, e.g. `servicenow.instance_url`.
    pub key: String,
    pub message: String,
}

impl ConfigError {
    /// A problem with `key`. When `key` holds a secret, serde's description of the value
    /// it found (`invalid type: integer `12345678`, …`) is cut to the value's type, so a
    /// mistyped secret is never echoed.
    pub(crate) fn new(
        origin: impl Into<String>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        let key = key.into();
        let message = message.into();
        let message = if is_secret_key(&key) {
            without_value(&message)
        } else {
            message
        };
        Self {
            origin: origin.into(),
            key,
            message,
        }
    }
}

/// The keys that hold secrets, by their last part (`servicenow.password`,
/// `http.api_keys[0]`, `sources.oort.hmac_secret`, `poller.push_secret`).
const SECRET_KEYS: [&str; 6] = [
    "password",
    "client_secret",
    "token_encryption_key",
    "hmac_secret",
    "push_secret",
    "api_keys",
];

fn is_secret_key(key: &str) -> bool {
    let last = key.rsplit('.').next().unwrap_or(key);
    let last = last.split('[').next().unwrap_or(last);
    SECRET_KEYS.contains(&last)
}

/// serde's `invalid type: <what> <value>, expected <type>` (and `invalid value: …`) with
/// the value left out; other messages name no value and are kept.
fn without_value(message: &str) -> String {
    for prefix in ["invalid type: ", "invalid value: ", "invalid length "] {
        if let Some(rest) = message.strip_prefix(prefix) {
            let (found, expected) = rest.split_once(", expected ").unwrap_or((rest, ""));
            let kind = found
                .split(['`', '"', '\''])
                .next()
                .unwrap_or_default()
                .trim();
            let expected = match expected {
                "" => String::new(),
                "a sequence" => ", expected a list such as [\"…\"]".to_owned(),
                other => format!(", expected {other}"),
            };
            return format!("{prefix}{kind} (value not shown){expected}");
        }
    }
    message.to_owned()
}

/// The whole, validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where it came from, for messages: a path or `built-in defaults`.
    pub origin: String,
    pub servicenow: ServiceNowConfig,
    pub database: DatabaseConfig,
    pub http: HttpConfig,
    pub admin: AdminConfig,
    pub outbox: OutboxConfig,
    pub poller: PollerConfig,
    pub mapping: MappingConfig,
    pub log: LogConfig,
    pub sources: BTreeMap<String, SourceConfig>,
}

/// How snowsync authenticates to the instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    /// OAuth resource-owner password grant with refresh tokens.
    OauthPassword,
    /// The password grant once, then the refresh token kept encrypted in the database: the
    /// password may leave the configuration after the first successful start.
    OauthPasswordBootstrap,
    /// OAuth client-credentials grant (Washington DC and later).
    OauthClientCredentials,
    /// OAuth JWT bearer grant: a signed assertion exchanged for an access token.
    OauthJwtBearer,
    /// HTTP basic auth on every request.
    Basic,
}

impl AuthMode {
    /// The value as written in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OauthPassword => "oauth_password",
            Self::OauthPasswordBootstrap => "oauth_password_bootstrap",
            Self::OauthClientCredentials => "oauth_client_credentials",
            Self::OauthJwtBearer => "oauth_jwt_bearer",
            Self::Basic => "basic",
        }
    }
}

impl std::fmt::Display for AuthMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The instance and how to talk to it.
#[derive(Debug, Clone)]
pub struct ServiceNowConfig {
    /// Normalised: always ends with `/`, so `join` keeps the path.
    pub instance_url: Url,
    pub auth: AuthMode,
    pub client_id: Option<String>,
    pub client_secret: Option<SecretString>,
    pub username: Option<String>,
    pub password: Option<SecretString>,
    /// The JWT bearer grant's key and claims; set exactly when `auth` is `oauth_jwt_bearer`.
    pub jwt: Option<JwtConfig>,
    /// How the refresh token is stored; set exactly when `auth` is `oauth_password_bootstrap`.
    pub bootstrap: Option<BootstrapConfig>,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub max_concurrency: usize,
    pub requests_per_second: f64,
    pub ca_file: Option<PathBuf>,
    pub allow_insecure_http: bool,
}

/// What the JWT bearer grant signs its assertions with, and whom they name.
#[derive(Debug, Clone)]
pub struct JwtConfig {
    /// The private key, PEM, as read from `jwt_key_file`.
    pub key: SecretString,
    /// The `kid` header: the instance picks its JWT verifier map by it.
    pub key_id: String,
    /// The `sub` claim: the value the instance's JWT provider matches against its User field
    /// (a user name or an email address).
    pub subject: String,
    pub algorithm: JwtAlgorithm,
}

/// How `oauth_password_bootstrap` keeps its refresh token in the database.
#[derive(Debug, Clone)]
pub struct BootstrapConfig {
    /// 32 random bytes, base64: the AES-256-GCM key the refresh token is stored under.
    pub token_encryption_key: SecretString,
    /// The instance's "Refresh Token Lifespan" of the OAuth application (ServiceNow answers
    /// no expiry for it): when a stored token dies, so it is renewed before.
    pub refresh_token_lifespan: Duration,
}

/// The signing algorithms offered for assertions: those ServiceNow verifies that sign with a
/// private key (the HMAC ones would need the client secret as key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum JwtAlgorithm {
    RS256,
    RS384,
    RS512,
    ES256,
    ES384,
}

impl JwtAlgorithm {
    /// The value as written in the configuration and in the JWT header.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::RS384 => "RS384",
            Self::RS512 => "RS512",
            Self::ES256 => "ES256",
            Self::ES384 => "ES384",
        }
    }
}

#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    pub url: String,
    /// PostgreSQL schema to create and use (`search_path`); `None` uses the default.
    pub schema: Option<String>,
    pub max_connections: u32,
    pub busy_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub listen: SocketAddr,
    pub api_keys: Vec<SecretString>,
}

/// The operator's role: keys for the outbox and mapping API and the console's sign-in.
#[derive(Debug, Clone)]
pub struct AdminConfig {
    /// Keys with the `admin` role, distinct from every ingest key of `http.api_keys`.
    pub api_keys: Vec<SecretString>,
    /// How long a console session lasts after sign-in.
    pub session_ttl: Duration,
}

/// Outbox workers and their retry policy.
#[derive(Debug, Clone)]
pub struct OutboxConfig {
    pub workers: usize,
    pub lease: Duration,
    /// How long an idle worker waits before looking for due rows again.
    pub idle_poll: Duration,
    /// The longest one delivery may take, waits included; it is cut off after that.
    pub delivery_timeout: Duration,
    /// The most rows a worker claims at once; their ticket writes go out together in one
    /// Batch API call. 1 delivers row by row.
    pub batch_size: usize,
    pub retry: RetryPolicy,
}

impl OutboxConfig {
    /// How long after a lease expired another worker waits before taking the row over, and
    /// how long a write that got no answer is given before its row is tried again: the
    /// instance has by then applied or dropped whatever the previous attempt sent.
    /// It is `delivery_timeout`, the longest a delivery can have run.
    pub fn takeover_grace(&self) -> Duration {
        self.delivery_timeout
    }
}

/// Exponential backoff with optional full jitter; `Retry-After` from the server wins.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub initial: Duration,
    pub max: Duration,
    pub multiplier: f64,
    pub jitter: bool,
}

#[derive(Debug, Clone)]
pub struct PollerConfig {
    pub enabled: bool,
    pub interval: Duration,
    pub overlap: Duration,
    pub page_size: u32,
    /// Verifies push hints (`POST /v1/servicenow/events`); none set: hints are refused.
    pub push_secret: Option<SecretString>,
}

/// Where mappings and templates come from. A folder given in the file must exist; without
/// one, `mappings/`, `mappings.d/` and `templates/` beside the config file are used when they
/// exist, and the starter files built into the binary otherwise (`crate::starter`).
#[derive(Debug, Clone, Default)]
pub struct MappingConfig {
    /// The shipped rules and profiles; `None`: the built-in starter mappings.
    pub rules_dir: Option<PathBuf>,
    /// The admin's own rules and profiles, loaded before the shipped ones, so their rules are
    /// tried first and an upgrade that replaces the shipped files never touches them.
    pub local_rules_dir: Option<PathBuf>,
    /// The Handlebars templates; `None`: the built-in starter templates.
    pub templates_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone)]
pub struct LogConfig {
    pub format: LogFormat,
    pub level: String,
}

/// A source system that snowsync notifies when its findings change on the ticket side.
#[derive(Debug, Clone)]
pub struct SourceConfig {
    pub webhook_url: Option<Url>,
    pub hmac_secret: Option<SecretString>,
}

impl Config {
    /// Loads `path` (or [`DEFAULT_CONFIG_PATH`], or the built-in defaults when that is
    /// absent), then applies the `SNOWSYNC_*` variables among `vars`.
    pub fn load(
        path: Option<&Path>,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let path = match path {
            Some(p) => Some(p),
            None => Some(Path::new(DEFAULT_CONFIG_PATH)).filter(|p| p.exists()),
        };
        let base = paths::base_of(path);
        let (origin, text) = match path {
            Some(p) => {
                let origin = p.display().to_string();
                let text = std::fs::read_to_string(p).map_err(|e| {
                    ConfigError::new(&origin, "(file)", format!("cannot read: {e}"))
                })?;
                (origin, text)
            }
            None => ("built-in defaults".to_owned(), String::new()),
        };
        Self::from_toml_in(&origin, &text, vars, &base)
    }

    /// Settings for a run against the built-in emulator: its integration account over OAuth
    /// (password grant), the database at `database_url`, the API on a free loopback port
    /// with `api_key`, the starter mappings and templates, quick retries; every other key
    /// at its default. `demo`, `bench` and the tests start from here.
    pub fn for_emulator(sim: &crate::sim::SimHandle, database_url: &str, api_key: &str) -> Self {
        let (username, password) = sim.integration_credentials();
        let (client_id, client_secret) = sim.oauth_client();
        let quoted = |text: &str| toml::Value::String(text.to_owned()).to_string();
        let text = format!(
            "[servicenow]\ninstance_url = {url}\nauth = \"oauth_password\"\n\
             client_id = {client_id}\nclient_secret = {client_secret}\n\
             username = {username}\npassword = {password}\n\
             [database]\nurl = {database}\n\
             [http]\nlisten = \"127.0.0.1:0\"\napi_keys = [{api_key}]\n\
             [outbox]\nworkers = 4\nidle_poll = \"100ms\"\ninitial = \"200ms\"\nmax = \"5s\"\n\
             [poller]\nenabled = false\n",
            url = quoted(sim.base_url().as_str()),
            client_id = quoted(&client_id),
            client_secret = quoted(&client_secret),
            username = quoted(&username),
            password = quoted(&password),
            database = quoted(database_url),
            api_key = quoted(api_key),
        );
        // Invariant: every value above is one the emulator itself hands out, and valid.
        Self::from_toml("emulator settings", &text, Vec::new())
            .expect("settings for the emulator are valid")
    }

    /// Parses `text` (named `origin` in errors) and applies the environment overrides;
    /// relative paths are taken from the current folder.
    pub fn from_toml(
        origin: &str,
        text: &str,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        Self::from_toml_in(origin, text, vars, &paths::base_of(None))
    }

    /// [`Config::from_toml`] with relative paths taken from `base`, the config file's folder.
    pub fn from_toml_in(
        origin: &str,
        text: &str,
        vars: impl IntoIterator<Item = (String, String)>,
        base: &Path,
    ) -> Result<Self, ConfigError> {
        raw::check_file(origin, text)?;
        let mut table: toml::Table = toml::from_str(text)
            .map_err(|e| ConfigError::new(origin, "(file)", e.message().to_owned()))?;
        let overrides = env::apply(&mut table, vars)?;
        let mut file: raw::File = env::deserialize(table, &overrides)?;
        paths::resolve(&mut file, base);
        file.validate(origin, base)
    }
}
