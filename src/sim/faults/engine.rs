//! Per-request fault decisions: draws, burst and revocation countdowns, rate-limit windows.
//! Decides only; the dispatcher carries the decision out.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{AfterCommit, Fault, Faults};

/// What to do with a request before serving it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Pre {
    Hibernate,
    /// A burst 429: it names the rule and, when a rate-limit rule is set, its limit.
    TooMany {
        retry_after_secs: u64,
        rule: String,
        limit: Option<u64>,
    },
    Fail {
        status: u16,
    },
    Hang,
    Reset,
    Serve {
        delay: Duration,
        after_commit: Option<AfterCommit>,
        revoke_tokens: bool,
    },
}

/// The rate-limit rule's verdict for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RateDecision {
    pub limit: u64,
    /// UNIX time when the hour's count starts again.
    pub reset: i64,
    pub rule: String,
    pub exceeded: bool,
}

struct State {
    faults: Faults,
    rng: fastrand::Rng,
    burst_left: Option<u64>,
    burst_until: Option<DateTime<Utc>>,
    revoke_countdown: Option<u64>,
    /// Per user: the hour window's start and the count in it.
    windows: HashMap<String, (i64, u64)>,
    rule_sys_id: String,
}

/// The faults in force and their running state.
pub(crate) struct FaultEngine {
    state: Mutex<State>,
}

fn matches(
    method: &Option<String>,
    path: &Option<String>,
    req_method: &str,
    req_path: &str,
) -> bool {
    method
        .as_ref()
        .is_none_or(|m| m.eq_ignore_ascii_case(req_method))
        && path
            .as_ref()
            .is_none_or(|p| req_path.starts_with(p.as_str()))
}

impl FaultEngine {
    pub(crate) fn new(faults: Faults, now: DateTime<Utc>) -> Self {
        let engine = Self {
            state: Mutex::new(State {
                faults: Faults::none(),
                rng: fastrand::Rng::new(),
                burst_left: None,
                burst_until: None,
                revoke_countdown: None,
                windows: HashMap::new(),
                rule_sys_id: crate::sim::write::new_sys_id(),
            }),
        };
        engine.set(faults, now);
        engine
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Replaces the faults in force; returns whether tokens are to be revoked now.
    pub(crate) fn set(&self, faults: Faults, now: DateTime<Utc>) -> bool {
        let mut s = self.lock();
        s.rng = match faults.seed {
            Some(seed) => fastrand::Rng::with_seed(seed),
            None => fastrand::Rng::new(),
        };
        s.burst_left = faults.burst.as_ref().and_then(|b| b.requests);
        s.burst_until = faults
            .burst
            .as_ref()
            .and_then(|b| b.duration)
            .and_then(|d| chrono::Duration::from_std(d).ok())
            .map(|d| {
                now.checked_add_signed(d)
                    .unwrap_or(DateTime::<Utc>::MAX_UTC)
            });
        s.revoke_countdown = faults.revoke_tokens_after;
        s.windows.clear();
        let revoke = faults.revoke_tokens;
        s.faults = Faults {
            revoke_tokens: false,
            ..faults
        };
        revoke
    }

    /// The faults in force.
    pub(crate) fn get(&self) -> Faults {
        self.lock().faults.clone()
    }

    /// Decides the fate of one request. `path` has its Table API version segment removed.
    pub(crate) fn before(&self, method: &str, path: &str, now: DateTime<Utc>) -> Pre {
        let mut s = self.lock();
        let s = &mut *s;
        let mut revoke_tokens = false;
        if let Some(n) = s.revoke_countdown.as_mut() {
            if *n == 0 {
                revoke_tokens = true;
                s.revoke_countdown = None;
            } else {
                *n -= 1;
            }
        }
        if s.faults.hibernating {
            return Pre::Hibernate;
        }
        if let Some(b) = &s.faults.burst
            && matches(&b.method, &b.path, method, path)
        {
            let by_count = s.burst_left.is_some_and(|n| n > 0);
            let by_time = s.burst_until.is_some_and(|t| now < t);
            let active = match (b.requests, b.duration) {
                (Some(_), Some(_)) => by_count && by_time,
                (Some(_), None) => by_count,
                (None, Some(_)) => by_time,
                (None, None) => false,
            };
            if active {
                if let Some(n) = s.burst_left.as_mut() {
                    *n -= 1;
                }
                return Pre::TooMany {
                    retry_after_secs: b.retry_after_secs,
                    rule: s.rule_sys_id.clone(),
                    limit: s.faults.rate_limit.as_ref().map(|r| r.per_hour),
                };
            }
        }
        let mut delay = Duration::ZERO;
        let mut after_commit = None;
        for rule in &s.faults.rules {
            if !matches(&rule.method, &rule.path, method, path) {
                continue;
            }
            if let Fault::Latency { fixed, jitter } = &rule.fault {
                let extra = jitter.mul_f64(s.rng.f64());
                delay += *fixed + extra;
                continue;
            }
            if after_commit.is_some() || s.rng.f64() >= rule.probability {
                continue;
            }
            match &rule.fault {
                Fault::Error { status } => return Pre::Fail { status: *status },
                Fault::Hang => return Pre::Hang,
                Fault::Reset => return Pre::Reset,
                Fault::Hibernate => return Pre::Hibernate,
                Fault::CommitThenFail { then } => after_commit = Some(*then),
                Fault::Latency { .. } => {}
            }
        }
        Pre::Serve {
            delay,
            after_commit,
            revoke_tokens,
        }
    }

    /// Counts a request of `user` against the rate-limit rule, if one applies.
    pub(crate) fn rate_limit(&self, user: &str, now_unix: i64) -> Option<RateDecision> {
        let mut s = self.lock();
        let rule = s.faults.rate_limit.clone()?;
        if rule.user.as_deref().is_some_and(|u| u != user) {
            return None;
        }
        let window = now_unix - now_unix.rem_euclid(3600);
        let entry = s.windows.entry(user.to_owned()).or_insert((window, 0));
        if entry.0 != window {
            *entry = (window, 0);
        }
        entry.1 += 1;
        let exceeded = entry.1 > rule.per_hour;
        Some(RateDecision {
            limit: rule.per_hour,
            reset: window + 3600,
            rule: s.rule_sys_id.clone(),
            exceeded,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::faults::{Burst, FaultRule, RateLimit};

    fn serve() -> Pre {
        Pre::Serve {
            delay: Duration::ZERO,
            after_commit: None,
            revoke_tokens: false,
        }
    }

    #[test]
    fn a_seeded_error_share_is_repeatable_and_near_its_probability() {
        let now = Utc::now();
        let run = || {
            let e = FaultEngine::new(
                Faults::none()
                    .with_seed(7)
                    .with_rule(FaultRule::error(500, 0.05)),
                now,
            );
            (0..2000)
                .map(|_| e.before("POST", "/api/now/table/incident", now) != serve())
                .collect::<Vec<_>>()
        };
        let a = run();
        assert_eq!(a, run());
        let hits = a.iter().filter(|x| **x).count();
        assert!((60..=140).contains(&hits), "{hits} of 2000");
    }

    #[test]
    fn a_burst_of_n_answers_429_exactly_n_times() {
        let now = Utc::now();
        let e = FaultEngine::new(Faults::none().with_burst(Burst::requests(3, 5)), now);
        let got: Vec<Pre> = (0..4).map(|_| e.before("GET", "/x", now)).collect();
        assert!(got[..3].iter().all(|p| *p
            == Pre::TooMany {
                retry_after_secs: 5,
                rule: e.lock().rule_sys_id.clone(),
                limit: None,
            }));
        assert_eq!(got[3], serve());
    }

    #[test]
    fn the_rate_limit_counts_per_user_and_hour() {
        let now = Utc::now();
        let e = FaultEngine::new(
            Faults::none().with_rate_limit(RateLimit {
                per_hour: 2,
                user: None,
            }),
            now,
        );
        let t = 7200 * 1000;
        assert!(!e.rate_limit("a", t).is_some_and(|d| d.exceeded));
        assert!(!e.rate_limit("a", t + 1).is_some_and(|d| d.exceeded));
        assert!(
            e.rate_limit("a", t + 2)
                .is_some_and(|d| d.exceeded && d.reset == t + 3600)
        );
        assert!(!e.rate_limit("b", t + 2).is_some_and(|d| d.exceeded));
        assert!(!e.rate_limit("a", t + 3600).is_some_and(|d| d.exceeded));
    }
}
