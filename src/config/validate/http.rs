//! The `[http]` section: the listen address and the API keys, inline or from a file.

use std::net::SocketAddr;
use std::path::Path;

use secrecy::{ExposeSecret, SecretString};

use crate::config::raw::Http;
use crate::config::{ConfigError, HttpConfig};

pub(super) fn http(origin: &str, http: Http) -> Result<HttpConfig, ConfigError> {
    let mut api_keys = http.api_keys.unwrap_or_default();
    if let Some(path) = &http.api_keys_file {
        api_keys.extend(api_keys_file(origin, "http.api_keys_file", path)?);
    }
    if let Some(i) = api_keys.iter().position(|k| k.expose_secret().len() < 16) {
        return Err(ConfigError::new(
            origin,
            format!("http.api_keys[{i}]"),
            "must be at least 16 characters long",
        ));
    }
    Ok(HttpConfig {
        listen: http
            .listen
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
        api_keys,
    })
}

/// One key a line; blank lines and `#` comments skipped.
pub(super) fn api_keys_file(
    origin: &str,
    key: &str,
    path: &Path,
) -> Result<Vec<SecretString>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError::new(origin, key, format!("cannot read {}: {e}", path.display()))
    })?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| SecretString::from(l.to_owned()))
        .collect())
}
