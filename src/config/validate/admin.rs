//! The `[admin]` section: the keys with the `admin` role, inline or from a file, and how
//! long a console session lasts.

use std::time::Duration;

use secrecy::ExposeSecret;

use super::http::api_keys_file;
use super::nonzero;
use crate::config::raw::Admin;
use crate::config::{AdminConfig, ConfigError, HttpConfig};

/// A console session lasts a working day unless set.
const DEFAULT_SESSION_TTL: Duration = Duration::from_secs(8 * 3600);

pub(super) fn admin(
    origin: &str,
    admin: Admin,
    http: &HttpConfig,
) -> Result<AdminConfig, ConfigError> {
    let mut api_keys = admin.api_keys.unwrap_or_default();
    if let Some(path) = &admin.api_keys_file {
        api_keys.extend(api_keys_file(origin, "admin.api_keys_file", path)?);
    }
    for (i, key) in api_keys.iter().enumerate() {
        if key.expose_secret().len() < 16 {
            return Err(ConfigError::new(
                origin,
                format!("admin.api_keys[{i}]"),
                "must be at least 16 characters long",
            ));
        }
        // One key, one role: an ingest key that also opened the outbox would make the
        // role depend on which list was read first.
        if http
            .api_keys
            .iter()
            .any(|ingest| ingest.expose_secret() == key.expose_secret())
        {
            return Err(ConfigError::new(
                origin,
                format!("admin.api_keys[{i}]"),
                "is also in http.api_keys; an admin key must differ from every ingest key",
            ));
        }
    }
    let session_ttl = match admin.session_ttl {
        Some(ttl) => nonzero(origin, "admin.session_ttl", ttl)?,
        None => DEFAULT_SESSION_TTL,
    };
    Ok(AdminConfig {
        api_keys,
        session_ttl,
    })
}
