//! The pool's pause while ServiceNow is unavailable: down, hibernating, rate limiting or
//! refusing our credentials. Workers stop claiming until it ends, so an outage costs one probe
//! per pause instead of one request per owed row; it grows with each outage outcome in a row
//! (the retry policy's backoff, capped at its `max`, `Retry-After` winning) and ends at the
//! first delivery that succeeds. In memory, per process: the rows' own schedule is in the
//! database.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::retry;
use crate::config::RetryPolicy;

/// Shared by the workers of one pool.
#[derive(Debug, Default)]
pub struct OutagePause {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Outage outcomes since the last success.
    outages: u32,
    /// When the current outage was first seen.
    since: Option<Instant>,
    /// No claim before this.
    until: Option<Instant>,
}

impl OutagePause {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A delivery met an outage: pauses the pool for the next step of the backoff, or for
    /// `after` when the instance named it. Returns the pause.
    pub fn outage(&self, policy: &RetryPolicy, after: Option<Duration>, reason: &str) -> Duration {
        let now = Instant::now();
        let mut s = self.state();
        s.outages = s.outages.saturating_add(1);
        let pause = after.unwrap_or_else(|| retry::ceiling(policy, s.outages));
        let until = now + pause;
        if s.until.is_none_or(|u| u < until) {
            s.until = Some(until);
        }
        if s.since.is_none() {
            s.since = Some(now);
            tracing::warn!(pause = ?pause, error = %reason, "ServiceNow unavailable: outbox delivery paused; rows keep their attempts");
            metrics::counter!("outbox_outages_total").increment(1);
        } else {
            tracing::info!(pause = ?pause, outages = s.outages, error = %reason, "ServiceNow still unavailable: outbox delivery paused again");
        }
        metrics::gauge!("outbox_outage_paused").set(1.0);
        pause
    }

    /// A delivery went through: the outage, if any, is over.
    pub fn delivered(&self) {
        let mut s = self.state();
        if let Some(since) = s.since.take() {
            tracing::info!(lasted = ?since.elapsed(), outages = s.outages, "ServiceNow answers again: outbox delivery resumed");
            metrics::gauge!("outbox_outage_paused").set(0.0);
        }
        s.outages = 0;
        s.until = None;
    }

    /// How long workers still wait before claiming, if the pool is paused.
    pub fn remaining(&self) -> Option<Duration> {
        let until = self.state().until?;
        let left = until.saturating_duration_since(Instant::now());
        (!left.is_zero()).then_some(left)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 3,
            initial: Duration::from_secs(1),
            max: Duration::from_secs(4),
            multiplier: 2.0,
            jitter: true,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_pause_grows_per_outage_up_to_the_cap_and_ends_on_a_delivery() {
        let pause = OutagePause::default();
        assert_eq!(pause.remaining(), None);
        let steps: Vec<_> = (0..5)
            .map(|_| pause.outage(&policy(), None, "503").as_secs())
            .collect();
        assert_eq!(steps, [1, 2, 4, 4, 4], "backoff, capped, never giving up");
        assert_eq!(pause.remaining(), Some(Duration::from_secs(4)));
        tokio::time::advance(Duration::from_secs(3)).await;
        assert_eq!(pause.remaining(), Some(Duration::from_secs(1)));
        pause.delivered();
        assert_eq!(pause.remaining(), None);
        assert_eq!(pause.outage(&policy(), None, "503"), Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_names_the_pause() {
        let pause = OutagePause::default();
        let after = Duration::from_secs(30);
        assert_eq!(pause.outage(&policy(), Some(after), "429"), after);
        assert_eq!(pause.remaining(), Some(after));
    }
}
