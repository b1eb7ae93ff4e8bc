//! The `[poller]` section: how often and how much the reverse sync reads.

use std::time::Duration;

use super::{nonzero, positive, secret};
use crate::config::raw::Poller;
use crate::config::{ConfigError, PollerConfig};

pub(super) fn poller(origin: &str, pl: Poller) -> Result<PollerConfig, ConfigError> {
    let poller = PollerConfig {
        enabled: pl.enabled.unwrap_or(true),
        interval: nonzero(
            origin,
            "poller.interval",
            pl.interval.unwrap_or(Duration::from_secs(60)),
        )?,
        overlap: pl.overlap.unwrap_or(Duration::from_secs(30)),
        page_size: positive(origin, "poller.page_size", pl.page_size.unwrap_or(200))?,
        push_secret: secret(
            origin,
            "poller.push_secret",
            pl.push_secret,
            pl.push_secret_file,
        )?,
    };
    if poller.page_size > 10_000 {
        return Err(ConfigError::new(
            origin,
            "poller.page_size",
            "must be at most 10000 (the instance's row cap)",
        ));
    }
    Ok(poller)
}
