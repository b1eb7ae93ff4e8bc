//! The `[sources.NAME]` tables: where each source's webhook goes and the secret it signs with.

use std::collections::BTreeMap;

use url::Url;

use super::secret;
use crate::config::raw::Source;
use crate::config::{ConfigError, SourceConfig};

pub(super) fn sources(
    origin: &str,
    raw: BTreeMap<String, Source>,
) -> Result<BTreeMap<String, SourceConfig>, ConfigError> {
    let mut sources = BTreeMap::new();
    for (name, src) in raw {
        let key = format!("sources.{name}");
        let webhook_url = src
            .webhook_url
            .map(|u| webhook_url(origin, &format!("{key}.webhook_url"), &u))
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
    Ok(sources)
}

fn webhook_url(origin: &str, key: &str, text: &str) -> Result<Url, ConfigError> {
    let url =
        Url::parse(text).map_err(|e| ConfigError::new(origin, key, format!("not a URL ({e})")))?;
    let loopback =
        super::loopback(&url).ok_or_else(|| ConfigError::new(origin, key, "has no host"))?;
    match url.scheme() {
        "https" => Ok(url),
        // A notification carries the finding and its signature: in the clear only locally.
        "http" if loopback => Ok(url),
        "http" => Err(ConfigError::new(
            origin,
            key,
            "must use https (http is only allowed for loopback hosts)",
        )),
        other => Err(ConfigError::new(
            origin,
            key,
            format!("unsupported scheme `{other}`"),
        )),
    }
}
