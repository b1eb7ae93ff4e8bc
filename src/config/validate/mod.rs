//! Validation of the configuration as written into [`Config`]: defaults filled in, secrets
//! read from their files, every problem named by origin, key and what is wrong.
//!
//! One submodule per section; this module runs them in file order and owns the helpers they
//! share. The order matters: when a file has several problems, the first one found is reported.

mod admin;
mod database;
mod http;
mod log;
mod outbox;
mod poller;
mod servicenow;
mod sources;

use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;

use super::raw::File;
use super::{Config, ConfigError, MappingConfig, paths};

impl File {
    pub(in crate::config) fn validate(
        self,
        origin: &str,
        base: &Path,
    ) -> Result<Config, ConfigError> {
        let servicenow = servicenow::servicenow(origin, self.servicenow)?;
        let mut database = database::database(origin, self.database)?;
        database.url = paths::database_url(base, &database.url);
        let http = http::http(origin, self.http)?;
        let admin = admin::admin(origin, self.admin, &http)?;
        let outbox = outbox::outbox(origin, self.outbox)?;
        outbox::lease_outlasts_requests(origin, &outbox, &servicenow)?;
        let poller = poller::poller(origin, self.poller)?;
        let mapping = MappingConfig {
            rules_dir: paths::folder_or_starter(self.mapping.rules_dir, base, "mappings"),
            local_rules_dir: paths::folder_or_starter(
                self.mapping.local_rules_dir,
                base,
                "mappings.d",
            ),
            templates_dir: paths::folder_or_starter(self.mapping.templates_dir, base, "templates"),
        };
        let log = log::log(origin, self.log)?;
        let sources = sources::sources(origin, self.sources)?;
        Ok(Config {
            origin: origin.to_owned(),
            servicenow,
            database,
            http,
            admin,
            outbox,
            poller,
            mapping,
            log,
            sources,
        })
    }
}

/// A secret given inline or as `KEY_file`, never both.
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

/// A count between 1 and `max`: each worker, connection or permit costs memory and a
/// task, so a typo such as `1e11` is refused at load rather than exhausting the machine.
fn count<T>(origin: &str, key: &str, value: T, max: T) -> Result<T, ConfigError>
where
    T: PartialOrd + Default + Copy + std::fmt::Display,
{
    if value > T::default() && value <= max {
        Ok(value)
    } else {
        Err(ConfigError::new(
            origin,
            key,
            format!("must be between 1 and {max}, got {value}"),
        ))
    }
}

fn nonzero(origin: &str, key: &str, value: Duration) -> Result<Duration, ConfigError> {
    if value.is_zero() {
        Err(ConfigError::new(origin, key, "must be longer than zero"))
    } else {
        Ok(value)
    }
}

/// Whether `url` names this machine (`localhost`, 127.0.0.0/8, `::1`); `None` without a host.
/// Plain http is allowed there only: anywhere else it would carry secrets in the clear.
fn loopback(url: &url::Url) -> Option<bool> {
    Some(match url.host()? {
        url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    })
}
