//! The `[outbox]` section: the workers, their lease, and the retry policy.

use std::time::Duration;

use super::{count, nonzero, positive};

/// The most outbox workers one instance runs; delivery is bounded by
/// `servicenow.max_concurrency` long before this.
const MAX_WORKERS: usize = 256;
/// The most rows one worker delivers together: a batch must finish well inside the Batch
/// API's own 30-second quota and `outbox.delivery_timeout`.
const MAX_BATCH: usize = 100;
use crate::config::raw::Outbox;
use crate::config::{ConfigError, OutboxConfig, RetryPolicy, ServiceNowConfig};

pub(super) fn outbox(origin: &str, ob: Outbox) -> Result<OutboxConfig, ConfigError> {
    let retry = retry(origin, &ob)?;
    Ok(OutboxConfig {
        workers: count(
            origin,
            "outbox.workers",
            ob.workers.unwrap_or(4),
            MAX_WORKERS,
        )?,
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
        delivery_timeout: nonzero(
            origin,
            "outbox.delivery_timeout",
            ob.delivery_timeout.unwrap_or(Duration::from_secs(120)),
        )?,
        batch_size: count(
            origin,
            "outbox.batch_size",
            ob.batch_size.unwrap_or(20),
            MAX_BATCH,
        )?,
        retry,
    })
}

fn retry(origin: &str, ob: &Outbox) -> Result<RetryPolicy, ConfigError> {
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
    Ok(retry)
}

/// A worker starts a write only while its lease is confirmed to outlast the request
/// (`outbox::lease`), so the lease must be longer than a request may take; and a delivery
/// must have room for at least one request and the renewal before it.
pub(super) fn lease_outlasts_requests(
    origin: &str,
    outbox: &OutboxConfig,
    servicenow: &ServiceNowConfig,
) -> Result<(), ConfigError> {
    if outbox.lease <= servicenow.request_timeout {
        return Err(ConfigError::new(
            origin,
            "outbox.lease",
            "must be longer than servicenow.request_timeout: a write starts only while the lease is sure to outlast it",
        ));
    }
    if outbox.delivery_timeout <= outbox.lease {
        return Err(ConfigError::new(
            origin,
            "outbox.delivery_timeout",
            "must be longer than outbox.lease (itself longer than servicenow.request_timeout), or a delivery cannot finish a single write",
        ));
    }
    Ok(())
}
