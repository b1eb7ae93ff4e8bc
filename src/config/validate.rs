//! Validation of the configuration as written into [`Config`]: defaults filled in, secrets
//! read from their files, every problem named by origin, key and what is wrong.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::raw::File;
use super::{
    AuthMode, Config, ConfigError, DatabaseConfig, HttpConfig, LogConfig, LogFormat, MappingConfig,
    OutboxConfig, PollerConfig, RetryPolicy, ServiceNowConfig, SourceConfig,
};

fn secret(
    origin: &str,
    key: &str,
    inline: Option<SecretString>,
    file: Option<PathBuf>,
) -> Result<Option<SecretString>, ConfigError> {
    match (inline, file) {
        (Some(_), Some(_)) => Err(ConfigError::new(
            origin,
            key,
            format!("set either `{key}` or `{key}_file`, not both"),
        )),
        (Some(value), None) => Ok(Some(value)),
        (None, Some(path)) => read_secret_file(&path)
            .map(Some)
            .map_err(|message| ConfigError::new(origin, format!("{key}_file"), message)),
        (None, None) => Ok(None),
    }
}

fn read_secret_file(path: &Path) -> Result<SecretString, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let trimmed = text.trim_end_matches(['\n', '\r']);
    if trimmed.is_empty() {
        return Err(format!("{} is empty", path.display()));
    }
    Ok(SecretString::from(trimmed.to_owned()))
}

fn positive<T: PartialOrd + Default + Copy>(
    origin: &str,
    key: &str,
    value: T,
) -> Result<T, ConfigError> {
    if value > T::default() {
        Ok(value)
    } else {
        Err(ConfigError::new(origin, key, "must be greater than zero"))
    }
}

fn nonzero(origin: &str, key: &str, value: Duration) -> Result<Duration, ConfigError> {
    if value.is_zero() {
        Err(ConfigError::new(origin, key, "must be longer than zero"))
    } else {
        Ok(value)
    }
}

/// Parses and normalises the instance URL: trailing `/` added, https unless loopback or allowed.
pub fn instance_url(text: &str, allow_insecure_http: bool) -> Result<Url, String> {
    let mut url = Url::parse(text.trim()).map_err(|e| format!("not a URL ({e})"))?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must not carry a query or a fragment".to_owned());
    }
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => return Err("has no host".to_owned()),
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback || allow_insecure_http => {}
        "http" => {
            return Err(
                "must use https (http is only allowed for loopback hosts or with allow_insecure_http = true)"
                    .to_owned(),
            );
        }
        other => return Err(format!("unsupported scheme `{other}`")),
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

impl File {
    pub(in crate::config) fn validate(self, origin: &str) -> Result<Config, ConfigError> {
        let sn = self.servicenow;
        let allow_insecure_http = sn.allow_insecure_http.unwrap_or(false);
        let instance_url = instance_url(
            sn.instance_url
                .as_deref()
                .unwrap_or("http://127.0.0.1:18080"),
            allow_insecure_http,
        )
        .map_err(|m| ConfigError::new(origin, "servicenow.instance_url", m))?;
        let auth = sn.auth.unwrap_or(AuthMode::Basic);
        let client_secret = secret(
            origin,
            "servicenow.client_secret",
            sn.client_secret,
            sn.client_secret_file,
        )?;
        let password = secret(origin, "servicenow.password", sn.password, sn.password_file)?;
        // With no file at all, the defaults talk to `snowsync sim` with its default accounts.
        let builtin = origin == "built-in defaults";
        let username = sn
            .username
            .or_else(|| builtin.then(|| "snowsync.integration".to_owned()));
        let password = password.or_else(|| builtin.then(|| SecretString::from("snowsync")));
        let client_id = sn.client_id;
        let require = |present: bool, key: &str| {
            if present {
                Ok(())
            } else {
                Err(ConfigError::new(
                    origin,
                    key,
                    format!("required when servicenow.auth = {auth:?}"),
                ))
            }
        };
        match auth {
            AuthMode::Basic => {
                require(username.is_some(), "servicenow.username")?;
                require(password.is_some(), "servicenow.password")?;
            }
            AuthMode::OauthPassword => {
                require(client_id.is_some(), "servicenow.client_id")?;
                require(client_secret.is_some(), "servicenow.client_secret")?;
                require(username.is_some(), "servicenow.username")?;
                require(password.is_some(), "servicenow.password")?;
            }
            AuthMode::OauthClientCredentials => {
                require(client_id.is_some(), "servicenow.client_id")?;
                require(client_secret.is_some(), "servicenow.client_secret")?;
            }
        }
        if let Some(ca) = &sn.ca_file
            && !ca.is_file()
        {
            return Err(ConfigError::new(
                origin,
                "servicenow.ca_file",
                format!("{} is not a file", ca.display()),
            ));
        }
        let requests_per_second = sn.requests_per_second.unwrap_or(20.0);
        if !(requests_per_second.is_finite() && requests_per_second > 0.0) {
            return Err(ConfigError::new(
                origin,
                "servicenow.requests_per_second",
                "must be a positive number",
            ));
        }
        let servicenow = ServiceNowConfig {
            instance_url,
            auth,
            client_id,
            client_secret,
            username,
            password,
            connect_timeout: nonzero(
                origin,
                "servicenow.connect_timeout",
                sn.connect_timeout.unwrap_or(Duration::from_secs(10)),
            )?,
            request_timeout: nonzero(
                origin,
                "servicenow.request_timeout",
                sn.request_timeout.unwrap_or(Duration::from_secs(30)),
            )?,
            max_concurrency: positive(
                origin,
                "servicenow.max_concurrency",
                sn.max_concurrency.unwrap_or(8),
            )?,
            requests_per_second,
            ca_file: sn.ca_file,
            allow_insecure_http,
        };

        let db = self.database;
        let url = db
            .url
            .unwrap_or_else(|| "sqlite://data/snowsync.db?mode=rwc".to_owned());
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            return Err(ConfigError::new(
                origin,
                "database.url",
                "must start with sqlite:, postgres:// or postgresql://",
            ));
        }
        if let Some(schema) = &db.schema
            && (schema.is_empty()
                || !schema
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_')
                || schema.starts_with(|c: char| c.is_ascii_digit()))
        {
            return Err(ConfigError::new(
                origin,
                "database.schema",
                "must be letters, digits and `_`, not starting with a digit",
            ));
        }
        let database = DatabaseConfig {
            url,
            schema: db.schema,
            max_connections: positive(
                origin,
                "database.max_connections",
                db.max_connections.unwrap_or(10),
            )?,
            busy_timeout: db.busy_timeout.unwrap_or(Duration::from_secs(5)),
        };

        let mut api_keys = self.http.api_keys.unwrap_or_default();
        if let Some(path) = &self.http.api_keys_file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                ConfigError::new(
                    origin,
                    "http.api_keys_file",
                    format!("cannot read {}: {e}", path.display()),
                )
            })?;
            api_keys.extend(
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(|l| SecretString::from(l.to_owned())),
            );
        }
        if let Some(i) = api_keys.iter().position(|k| k.expose_secret().len() < 16) {
            return Err(ConfigError::new(
                origin,
                format!("http.api_keys[{i}]"),
                "must be at least 16 characters long",
            ));
        }
        let http = HttpConfig {
            listen: self
                .http
                .listen
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
            api_keys,
        };

        let ob = self.outbox;
        let retry = RetryPolicy {
            max_attempts: positive(origin, "outbox.max_attempts", ob.max_attempts.unwrap_or(12))?,
            initial: nonzero(
                origin,
                "outbox.initial",
                ob.initial.unwrap_or(Duration::from_secs(1)),
            )?,
            max: nonzero(
                origin,
                "outbox.max",
                ob.max.unwrap_or(Duration::from_secs(300)),
            )?,
            multiplier: ob.multiplier.unwrap_or(2.0),
            jitter: ob.jitter.unwrap_or(true),
        };
        if !(retry.multiplier.is_finite() && retry.multiplier >= 1.0) {
            return Err(ConfigError::new(
                origin,
                "outbox.multiplier",
                "must be a number of at least 1.0",
            ));
        }
        if retry.max < retry.initial {
            return Err(ConfigError::new(
                origin,
                "outbox.max",
                "must not be shorter than outbox.initial",
            ));
        }
        let outbox = OutboxConfig {
            workers: positive(origin, "outbox.workers", ob.workers.unwrap_or(4))?,
            lease: nonzero(
                origin,
                "outbox.lease",
                ob.lease.unwrap_or(Duration::from_secs(60)),
            )?,
            idle_poll: nonzero(
                origin,
                "outbox.idle_poll",
                ob.idle_poll.unwrap_or(Duration::from_millis(500)),
            )?,
            retry,
        };

        if outbox.lease <= servicenow.request_timeout {
            return Err(ConfigError::new(
                origin,
                "outbox.lease",
                "must be longer than servicenow.request_timeout, or a slow request loses its row to another worker",
            ));
        }

        let pl = self.poller;
        let poller = PollerConfig {
            enabled: pl.enabled.unwrap_or(true),
            interval: nonzero(
                origin,
                "poller.interval",
                pl.interval.unwrap_or(Duration::from_secs(60)),
            )?,
            overlap: pl.overlap.unwrap_or(Duration::from_secs(30)),
            page_size: positive(origin, "poller.page_size", pl.page_size.unwrap_or(200))?,
        };
        if poller.page_size > 10_000 {
            return Err(ConfigError::new(
                origin,
                "poller.page_size",
                "must be at most 10000 (the instance's row cap)",
            ));
        }

        let mapping = MappingConfig {
            rules_dir: self
                .mapping
                .rules_dir
                .unwrap_or_else(|| PathBuf::from("mappings")),
            templates_dir: self
                .mapping
                .templates_dir
                .unwrap_or_else(|| PathBuf::from("templates")),
        };
        let log = LogConfig {
            format: self.log.format.unwrap_or(LogFormat::Text),
            level: self.log.level.unwrap_or_else(|| "info".to_owned()),
        };
        if tracing_subscriber::EnvFilter::try_new(&log.level).is_err() {
            return Err(ConfigError::new(
                origin,
                "log.level",
                format!("`{}` is not a valid filter", log.level),
            ));
        }

        let mut sources = BTreeMap::new();
        for (name, src) in self.sources {
            let key = format!("sources.{name}");
            let webhook_url = src
                .webhook_url
                .map(|u| {
                    let url = Url::parse(&u).map_err(|e| {
                        ConfigError::new(
                            origin,
                            format!("{key}.webhook_url"),
                            format!("not a URL ({e})"),
                        )
                    })?;
                    match url.scheme() {
                        "http" | "https" => Ok(url),
                        other => Err(ConfigError::new(
                            origin,
                            format!("{key}.webhook_url"),
                            format!("unsupported scheme `{other}`"),
                        )),
                    }
                })
                .transpose()?;
            let hmac_secret = secret(
                origin,
                &format!("{key}.hmac_secret"),
                src.hmac_secret,
                src.hmac_secret_file,
            )?;
            sources.insert(
                name,
                SourceConfig {
                    webhook_url,
                    hmac_secret,
                },
            );
        }

        Ok(Config {
            origin: origin.to_owned(),
            servicenow,
            database,
            http,
            outbox,
            poller,
            mapping,
            log,
            sources,
        })
    }
}
