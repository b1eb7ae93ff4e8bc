//! Fault injection settings: what can go wrong, how often, and for which requests.
//! Data types with builders and their JSON form (`POST /sim/faults`); the per-request
//! decisions are in `engine`.

mod engine;

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub(crate) use engine::{FaultEngine, Pre};

/// Every fault in force. The default is none.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Seed of the draws that decide probabilistic faults: with one, a sequential run of
    /// requests meets the same faults every time.
    pub seed: Option<u64>,
    /// Probabilistic faults. Latency rules add up; of the others, the first that fires wins.
    pub rules: Vec<FaultRule>,
    /// A run of 429 answers.
    pub burst: Option<Burst>,
    /// An inbound REST rate-limit rule counting requests per user per hour.
    pub rate_limit: Option<RateLimit>,
    /// Every request gets the hibernating-instance page (HTML, status 200).
    pub hibernating: bool,
    /// Revoke every issued token when these faults are applied (not kept afterwards).
    pub revoke_tokens: bool,
    /// Revoke every issued token once, after this many more requests.
    pub revoke_tokens_after: Option<u64>,
}

impl Faults {
    /// No faults.
    pub fn none() -> Self {
        Self::default()
    }

    /// Makes the probabilistic draws repeatable.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Adds a probabilistic fault.
    pub fn with_rule(mut self, rule: FaultRule) -> Self {
        self.rules.push(rule);
        self
    }

    /// Adds a 429 burst.
    pub fn with_burst(mut self, burst: Burst) -> Self {
        self.burst = Some(burst);
        self
    }

    /// Adds a per-hour rate-limit rule.
    pub fn with_rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = Some(limit);
        self
    }

    /// Revokes every token after `requests` more requests.
    pub fn revoking_tokens_after(mut self, requests: u64) -> Self {
        self.revoke_tokens_after = Some(requests);
        self
    }
}

fn always() -> f64 {
    1.0
}

/// One probabilistic fault, optionally limited to a method and a path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    /// Only requests with this method (any case); all when absent.
    #[serde(default)]
    pub method: Option<String>,
    /// Only requests whose path starts with this; the version segment of versioned Table API
    /// paths is dropped first, so `/api/now/table/incident` also covers `/api/now/v2/...`.
    #[serde(default)]
    pub path: Option<String>,
    /// The share of matching requests that meet the fault, from 0 to 1.
    #[serde(default = "always")]
    pub probability: f64,
    pub fault: Fault,
}

impl FaultRule {
    /// A fault for a share of all requests.
    pub fn new(fault: Fault, probability: f64) -> Self {
        Self {
            method: None,
            path: None,
            probability,
            fault,
        }
    }

    /// A share of requests answered with `status` (500 or 503) and the error envelope.
    pub fn error(status: u16, probability: f64) -> Self {
        Self::new(Fault::Error { status }, probability)
    }

    /// A share of requests served (the write applied), then answered by `then`.
    pub fn commit_then_fail(then: AfterCommit, probability: f64) -> Self {
        Self::new(Fault::CommitThenFail { then }, probability)
    }

    /// Added latency on every matching request: `fixed` plus up to `jitter`.
    pub fn latency(fixed: Duration, jitter: Duration) -> Self {
        Self::new(Fault::Latency { fixed, jitter }, 1.0)
    }

    /// A share of requests that never get an answer.
    pub fn hang(probability: f64) -> Self {
        Self::new(Fault::Hang, probability)
    }

    /// A share of requests whose connection is reset instead of answered.
    pub fn reset(probability: f64) -> Self {
        Self::new(Fault::Reset, probability)
    }

    /// Limits the rule to one method and a path prefix.
    pub fn on(mut self, method: &str, path: &str) -> Self {
        self.method = Some(method.to_owned());
        self.path = Some(path.to_owned());
        self
    }
}

/// What goes wrong.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Fault {
    /// The error envelope with this status (500 or 503), nothing applied.
    Error { status: u16 },
    /// The request is served and its write applied, then the answer is `then`.
    CommitThenFail {
        #[serde(default)]
        then: AfterCommit,
    },
    /// Waits `fixed` plus a random part of `jitter` before serving.
    Latency {
        #[serde(default, with = "humantime_serde")]
        fixed: Duration,
        #[serde(default, with = "humantime_serde")]
        jitter: Duration,
    },
    /// No answer, ever (until the emulator stops).
    Hang,
    /// The TCP connection is reset.
    Reset,
    /// The hibernating-instance page.
    Hibernate,
}

/// The answer after a committed write.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AfterCommit {
    /// A 500 with the error envelope.
    #[default]
    Error,
    /// No answer.
    Hang,
}

/// A run of 429 answers with `Retry-After`, for the next `requests` matching requests or for
/// `duration`, whichever is set (both: whichever ends first).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Burst {
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub requests: Option<u64>,
    #[serde(default, with = "humantime_serde")]
    pub duration: Option<Duration>,
    /// The `Retry-After` value, in seconds.
    pub retry_after_secs: u64,
}

impl Burst {
    /// The next `n` requests get 429.
    pub fn requests(n: u64, retry_after_secs: u64) -> Self {
        Self {
            method: None,
            path: None,
            requests: Some(n),
            duration: None,
            retry_after_secs,
        }
    }

    /// Requests get 429 for `duration` of emulated time.
    pub fn lasting(duration: Duration, retry_after_secs: u64) -> Self {
        Self {
            method: None,
            path: None,
            requests: None,
            duration: Some(duration),
            retry_after_secs,
        }
    }
}

/// A `sys_rate_limit_rules` entry: at most `per_hour` requests per user per clock hour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    pub per_hour: u64,
    /// Only this user (user_name); every user, each counted apart, when absent.
    #[serde(default)]
    pub user: Option<String>,
}
