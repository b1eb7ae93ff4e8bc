//! When the next attempt of an outbox row is due: exponential backoff with full jitter,
//! capped, and `Retry-After` from ServiceNow winning. Pure arithmetic; the time is stored
//! in the row, so a restart keeps the schedule.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};

use crate::config::RetryPolicy;

/// What the policy says after `attempts` failed attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Try again after this delay.
    After(Duration),
    /// The attempts are used up.
    GiveUp,
}

/// The ceiling of the delay after the `attempts`-th failure: `initial * multiplier^(attempts-1)`,
/// capped at `max`.
pub fn ceiling(policy: &RetryPolicy, attempts: u32) -> Duration {
    let nth = attempts.max(1) as usize;
    ExponentialBuilder::new()
        .with_min_delay(policy.initial)
        .with_max_delay(policy.max)
        .with_factor(policy.multiplier as f32)
        .with_max_times(nth)
        .build()
        .nth(nth - 1)
        .unwrap_or(policy.max)
        .min(policy.max)
}

/// The delay before the next attempt, given `attempts` made so far, the server's
/// `Retry-After` if any, and a uniform random number in `[0, 1)` for the jitter.
pub fn next(
    policy: &RetryPolicy,
    attempts: u32,
    retry_after: Option<Duration>,
    unit_random: f64,
) -> Next {
    if attempts >= policy.max_attempts {
        return Next::GiveUp;
    }
    if let Some(after) = retry_after {
        return Next::After(after);
    }
    let ceiling = ceiling(policy, attempts);
    if policy.jitter {
        Next::After(ceiling.mul_f64(unit_random.clamp(0.0, 1.0)))
    } else {
        Next::After(ceiling)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(jitter: bool) -> RetryPolicy {
        RetryPolicy {
            max_attempts: 6,
            initial: Duration::from_secs(1),
            max: Duration::from_secs(10),
            multiplier: 2.0,
            jitter,
        }
    }

    #[test]
    fn ceiling_doubles_per_attempt_until_the_cap() {
        let table = [(1, 1), (2, 2), (3, 4), (4, 8), (5, 10), (9, 10)];
        for (attempts, secs) in table {
            assert_eq!(
                ceiling(&policy(false), attempts),
                Duration::from_secs(secs),
                "after {attempts} attempts"
            );
        }
    }

    #[test]
    fn full_jitter_stays_between_zero_and_the_ceiling() {
        for attempts in 1..6 {
            let top = ceiling(&policy(true), attempts);
            assert_eq!(
                next(&policy(true), attempts, None, 0.0),
                Next::After(Duration::ZERO)
            );
            assert_eq!(next(&policy(true), attempts, None, 1.0), Next::After(top));
            let Next::After(mid) = next(&policy(true), attempts, None, 0.5) else {
                panic!("gave up early")
            };
            assert!(
                mid <= top && mid >= top / 3,
                "{mid:?} outside the jitter range of {top:?}"
            );
        }
    }

    #[test]
    fn retry_after_wins_over_the_backoff() {
        let after = Duration::from_secs(42);
        assert_eq!(next(&policy(true), 1, Some(after), 0.9), Next::After(after));
    }

    #[test]
    fn attempts_run_out_at_max_attempts() {
        assert_eq!(next(&policy(true), 6, None, 0.5), Next::GiveUp);
        assert_eq!(
            next(&policy(true), 6, Some(Duration::from_secs(1)), 0.5),
            Next::GiveUp
        );
        assert!(matches!(next(&policy(true), 5, None, 0.5), Next::After(_)));
    }
}
