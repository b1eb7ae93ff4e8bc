//! `ServiceNowError` and its one classification into retry or give up.
//!
//! Every failure of the client ends up here; nothing here logs, and no message carries a
//! secret (tokens, passwords and client secrets never reach an error).

use std::fmt;
use std::time::Duration;

use reqwest::Method;

/// A failed call to the instance, with what the caller needs to decide what to do next.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ServiceNowError {
    /// The request could not be sent, or the connection broke before an answer came.
    #[error("{method} {endpoint}: cannot reach the instance: {message}")]
    Transport {
        method: Method,
        endpoint: String,
        message: String,
        /// False when the connection was never made, so the instance cannot have seen it.
        sent: bool,
    },
    /// No complete answer within the configured request timeout.
    #[error("{method} {endpoint}: no answer within {}", humantime::format_duration(*.after))]
    Timeout {
        method: Method,
        endpoint: String,
        after: Duration,
    },
    /// The instance answered with an error status.
    #[error("{method} {endpoint}: HTTP {status}{}", Reason(message.as_deref(), detail.as_deref()))]
    Status {
        status: u16,
        method: Method,
        endpoint: String,
        /// ServiceNow's `error.message`, when the body carried one.
        message: Option<String>,
        /// ServiceNow's `error.detail`, when the body carried one.
        detail: Option<String>,
        /// From a `Retry-After` header.
        retry_after: Option<Duration>,
    },
    /// The instance is not serving the API: an HTML page, a redirect, or `result: null` on 200
    /// (a hibernating developer instance, a maintenance page, a login portal).
    #[error("{method} {endpoint}: instance unavailable: {reason}")]
    InstanceUnavailable {
        method: Method,
        endpoint: String,
        reason: String,
    },
    /// A success status with a body that is not what the Table API sends.
    #[error("{method} {endpoint}: cannot decode the response: {message}")]
    Decode {
        method: Method,
        endpoint: String,
        message: String,
    },
    /// The token endpoint refused the credentials, or re-authentication after a 401 failed.
    #[error("authentication failed ({grant} grant): {message}")]
    Auth {
        grant: &'static str,
        message: String,
    },
    /// The refresh token of `oauth_password_bootstrap` could not be read from or written to
    /// the database.
    #[error("cannot read or write the stored refresh token: {0}")]
    StoredToken(String),
    /// The request was refused before sending: a table name, sys_id or query value that
    /// cannot be put into a URL or an encoded query safely.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The client could not be built (CA file, TLS set-up, missing credentials).
    #[error("cannot set up the ServiceNow client: {0}")]
    Setup(String),
    /// A write not sent because the caller's fence refused it (an outbox lease lost or
    /// about to end): the instance never saw it.
    #[error("{method} {endpoint}: not sent: {reason}")]
    Fenced {
        method: Method,
        endpoint: String,
        reason: String,
    },
    /// A Batch API item the instance left in `unserviced_requests` after every re-send.
    #[error("batch item {id} was not serviced by the instance")]
    Unserviced { id: String },
}

/// What a caller does after a failed call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// The instance is not serving us (down, hibernating, overloaded, rate limiting, or
    /// refusing our credentials): nothing is wrong with the request, and it will pass once
    /// the instance is back. Try again later, not before `after` when the instance said so.
    Outage { after: Option<Duration> },
    /// Transient, and about this request: try again later, a bounded number of times.
    Retry { after: Option<Duration> },
    /// Permanent: the instance refused the request itself; trying again fails the same way.
    GiveUp,
}

impl ServiceNowError {
    /// The one place that decides outage, retry or give up.
    ///
    /// Connection failures, timeouts, an unavailable instance, 408, 429, 5xx and refused
    /// credentials (a 401 that survived the client's re-authentication, a refused grant) are
    /// outages, honouring `Retry-After`, and so is a database that cannot give or keep the
    /// stored refresh token. A batch item left unserviced, a write the caller's
    /// fence kept back and an undecodable success are retried. 400, 403, 404 and other 4xx
    /// refuse the request's content and are given up, as are requests that cannot be built.
    pub fn classify(&self) -> Disposition {
        match self {
            Self::Transport { .. }
            | Self::Timeout { .. }
            | Self::InstanceUnavailable { .. }
            | Self::Auth { .. }
            | Self::StoredToken(_) => Disposition::Outage { after: None },
            Self::Unserviced { .. } | Self::Fenced { .. } | Self::Decode { .. } => {
                Disposition::Retry { after: None }
            }
            Self::Status {
                status,
                retry_after,
                ..
            } => match status {
                401 | 408 | 429 | 500..=599 => Disposition::Outage {
                    after: *retry_after,
                },
                _ => Disposition::GiveUp,
            },
            Self::InvalidRequest(_) | Self::Setup(_) => Disposition::GiveUp,
        }
    }

    /// True for what an instance answers about a table it does not have, such as one an
    /// uninstalled plugin brings: 400 "Invalid table <name>" (believed wording, open
    /// question 1 of the API notes).
    pub fn is_unknown_table(&self) -> bool {
        matches!(
            self,
            Self::Status { status: 400, message: Some(m), .. } if m.starts_with("Invalid table")
        )
    }

    /// True when a write may have been applied although it failed: a timeout, a broken
    /// connection after sending, or a 5xx on POST, PUT, PATCH or DELETE.
    /// The caller looks the record up (by `correlation_id`) before writing again.
    pub fn is_ambiguous_write(&self) -> bool {
        let write = |m: &Method| !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS);
        match self {
            Self::Timeout { method, .. } => write(method),
            Self::Transport { method, sent, .. } => *sent && write(method),
            Self::Status { status, method, .. } => (500..=599).contains(status) && write(method),
            _ => false,
        }
    }

    /// True when a write was sent and no answer came (a timeout, a connection broken after
    /// sending): the instance may still be working on it, and apply it later. An answered
    /// 5xx is not one: the instance finished with the request when it answered.
    pub fn is_unanswered_write(&self) -> bool {
        matches!(self, Self::Timeout { .. } | Self::Transport { .. }) && self.is_ambiguous_write()
    }

    /// True when a Batch API call was refused as a whole for what it is, not for what it
    /// carries: the endpoint missing, disabled or forbidden to the integration user. Its
    /// items were not run; sent one by one, they may pass.
    pub fn refuses_batch_api(&self) -> bool {
        matches!(
            self,
            Self::Status { status: 400 | 403 | 404 | 405, endpoint, .. } if endpoint.contains("/batch")
        )
    }

    /// True when the instance refused the credentials (a final 401, or a refused grant).
    pub fn is_auth(&self) -> bool {
        matches!(self, Self::Auth { .. } | Self::Status { status: 401, .. })
    }

    /// The HTTP status, when the instance answered with one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Formats `: message (detail)` when ServiceNow sent them.
struct Reason<'a>(Option<&'a str>, Option<&'a str>);

impl fmt::Display for Reason<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.0, self.1) {
            (Some(m), Some(d)) if !d.is_empty() => write!(f, ": {m} ({d})"),
            (Some(m), _) => write!(f, ": {m}"),
            (None, Some(d)) => write!(f, ": {d}"),
            (None, None) => Ok(()),
        }
    }
}

/// Parses `Retry-After`: delay seconds, or an HTTP date (RFC 7231) relative to `now`.
pub(crate) fn parse_retry_after(
    value: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = value.parse::<f64>()
        && secs.is_finite()
        && secs >= 0.0
    {
        return Some(Duration::from_secs_f64(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let delta = at.with_timezone(&chrono::Utc) - now;
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16, method: Method, retry_after: Option<Duration>) -> ServiceNowError {
        ServiceNowError::Status {
            status: code,
            method,
            endpoint: "api/now/table/incident".to_owned(),
            message: None,
            detail: None,
            retry_after,
        }
    }

    #[test]
    fn classification_table() {
        let secs = |s| Some(Duration::from_secs(s));
        let outage = |after| Disposition::Outage { after };
        let retry = Disposition::Retry { after: None };
        let cases: Vec<(ServiceNowError, Disposition, bool)> = vec![
            (status(400, Method::POST, None), Disposition::GiveUp, false),
            (status(401, Method::GET, None), outage(None), false),
            (status(403, Method::PATCH, None), Disposition::GiveUp, false),
            (status(404, Method::GET, None), Disposition::GiveUp, false),
            (status(405, Method::POST, None), Disposition::GiveUp, false),
            (status(408, Method::GET, None), outage(None), false),
            (status(429, Method::POST, secs(7)), outage(secs(7)), false),
            (status(429, Method::GET, None), outage(None), false),
            (status(500, Method::POST, None), outage(None), true),
            (status(502, Method::GET, None), outage(None), false),
            (status(503, Method::PATCH, secs(30)), outage(secs(30)), true),
            (
                ServiceNowError::Timeout {
                    method: Method::POST,
                    endpoint: "x".into(),
                    after: Duration::from_secs(30),
                },
                outage(None),
                true,
            ),
            (
                ServiceNowError::Timeout {
                    method: Method::GET,
                    endpoint: "x".into(),
                    after: Duration::from_secs(30),
                },
                outage(None),
                false,
            ),
            (
                ServiceNowError::Transport {
                    method: Method::POST,
                    endpoint: "x".into(),
                    message: "refused".into(),
                    sent: false,
                },
                outage(None),
                false,
            ),
            (
                ServiceNowError::Transport {
                    method: Method::POST,
                    endpoint: "x".into(),
                    message: "reset".into(),
                    sent: true,
                },
                outage(None),
                true,
            ),
            (
                ServiceNowError::InstanceUnavailable {
                    method: Method::GET,
                    endpoint: "x".into(),
                    reason: "HTML page".into(),
                },
                outage(None),
                false,
            ),
            (
                ServiceNowError::Decode {
                    method: Method::GET,
                    endpoint: "x".into(),
                    message: "bad".into(),
                },
                retry,
                false,
            ),
            (
                ServiceNowError::Auth {
                    grant: "password",
                    message: "refused".into(),
                },
                outage(None),
                false,
            ),
            (
                ServiceNowError::StoredToken("the database: pool timed out".into()),
                outage(None),
                false,
            ),
            (ServiceNowError::Unserviced { id: "1".into() }, retry, false),
            (
                ServiceNowError::Fenced {
                    method: Method::POST,
                    endpoint: "x".into(),
                    reason: "lease lost".into(),
                },
                retry,
                false,
            ),
            (
                ServiceNowError::InvalidRequest("bad table".into()),
                Disposition::GiveUp,
                false,
            ),
        ];
        for (err, disposition, ambiguous) in cases {
            assert_eq!(err.classify(), disposition, "{err}");
            assert_eq!(err.is_ambiguous_write(), ambiguous, "{err}");
        }
    }

    #[test]
    fn status_error_names_method_endpoint_and_servicenow_message() {
        let err = ServiceNowError::Status {
            status: 403,
            method: Method::POST,
            endpoint: "api/now/table/label_entry".into(),
            message: Some("User Not Authorized".into()),
            detail: Some("Failed API level ACL Validation".into()),
            retry_after: None,
        };
        assert_eq!(
            err.to_string(),
            "POST api/now/table/label_entry: HTTP 403: User Not Authorized (Failed API level ACL Validation)"
        );
    }

    #[test]
    fn retry_after_accepts_seconds_and_http_dates() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Thu, 01 Jan 2026 00:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 31 Dec 2025 23:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
