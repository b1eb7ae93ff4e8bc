//! `notify_source` delivery: POST the change to the source's webhook, HMAC-signed.
//!
//! Each request carries `x-snowsync-timestamp` (UNIX seconds when it was sent) and
//! `x-snowsync-signature: sha256=<hex>`, the HMAC-SHA256 under the source's `hmac_secret` of
//! the timestamp, a `.`, and the body. A receiver recomputes it, compares in constant time,
//! and refuses a timestamp older than its replay window (five minutes is usual): a captured
//! request cannot be sent again later, nor its body swapped.

use std::collections::BTreeMap;
use std::time::Duration;

use hmac::{KeyInit, Mac};
use secrecy::ExposeSecret;

use super::Delivery;
use crate::config::SourceConfig;
use crate::servicenow::WriteFence;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The hex HMAC-SHA256 of `bytes` under `secret`, as `sha256=<hex>`.
pub fn hmac_sha256(secret: &[u8], bytes: &[u8]) -> String {
    // Invariant: HMAC accepts keys of any length, so new_from_slice cannot fail.
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(bytes);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The value of `x-snowsync-signature` for `body` sent at `timestamp` (UNIX seconds).
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut signed = format!("{timestamp}.").into_bytes();
    signed.extend_from_slice(body);
    hmac_sha256(secret, &signed)
}

/// Whether `signature` is the one for `body` at `timestamp`, compared in constant time, and
/// `timestamp` is within `window` of `now`.
pub fn verify(
    secret: &[u8],
    timestamp: i64,
    body: &[u8],
    signature_header: &str,
    now: i64,
    window: Duration,
) -> bool {
    use subtle::ConstantTimeEq;
    let fresh = now.abs_diff(timestamp) <= window.as_secs();
    let expected = signature(secret, timestamp, body);
    fresh
        && bool::from(
            expected
                .as_bytes()
                .ct_eq(signature_header.trim().as_bytes()),
        )
}

/// Sends source notifications; one HTTP client for every source.
#[derive(Clone)]
pub struct Notifier {
    http: reqwest::Client,
    timeout: Duration,
    sources: BTreeMap<String, SourceConfig>,
}

impl Notifier {
    pub fn new(
        sources: BTreeMap<String, SourceConfig>,
        timeout: Duration,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            http,
            timeout,
            sources,
        })
    }

    /// Delivers `body` to `source`, if `fence` (the worker's lease) admits the request.
    /// A source without a webhook has nothing to deliver.
    pub async fn notify(
        &self,
        source: &str,
        body: &serde_json::Value,
        fence: &dyn WriteFence,
    ) -> Delivery {
        let Some(config) = self.sources.get(source) else {
            return Delivery::Done;
        };
        let Some(url) = &config.webhook_url else {
            return Delivery::Done;
        };
        let bytes = body.to_string().into_bytes();
        let mut request = self
            .http
            .post(url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(
                reqwest::header::USER_AGENT,
                concat!("snowsync/", env!("CARGO_PKG_VERSION")),
            );
        if let Some(secret) = &config.hmac_secret {
            let timestamp = chrono::Utc::now().timestamp();
            request = request
                .header("x-snowsync-timestamp", timestamp.to_string())
                .header(
                    "x-snowsync-signature",
                    signature(secret.expose_secret().as_bytes(), timestamp, &bytes),
                );
        }
        if let Err(reason) = fence.admit(self.timeout).await {
            return Delivery::Retry {
                after: None,
                reason: format!("source {source} webhook not called: {reason}"),
                maybe_applied: false,
                unanswered: false,
            };
        }
        match request.body(bytes).send().await {
            Ok(response) if response.status().is_success() => Delivery::Done,
            Ok(response) => {
                let status = response.status();
                let reason = format!("source {source} webhook answered {status}");
                if status == reqwest::StatusCode::TOO_MANY_REQUESTS
                    || status.is_server_error()
                    || status == reqwest::StatusCode::REQUEST_TIMEOUT
                {
                    let after = response
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    Delivery::Retry {
                        after,
                        reason,
                        maybe_applied: false,
                        unanswered: false,
                    }
                } else {
                    Delivery::Dead { reason }
                }
            }
            Err(err) => Delivery::Retry {
                after: None,
                reason: format!("source {source} webhook unreachable: {}", without_url(&err)),
                maybe_applied: false,
                unanswered: false,
            },
        }
    }
}

/// reqwest errors print the URL, which may carry a token in its query: leave it out.
fn without_url(err: &reqwest::Error) -> String {
    let kind = if err.is_timeout() {
        "timeout"
    } else if err.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    kind.to_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_hmac_is_the_hex_hmac_sha256_of_its_input() {
        // RFC 4231 test case 2.
        assert_eq!(
            super::hmac_sha256(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn a_signature_verifies_for_its_timestamp_and_body_only() {
        let window = std::time::Duration::from_secs(300);
        let sig = super::signature(b"secret", 1_000, b"{}");
        assert!(super::verify(b"secret", 1_000, b"{}", &sig, 1_100, window));
        assert!(
            !super::verify(b"secret", 1_001, b"{}", &sig, 1_100, window),
            "another time"
        );
        assert!(
            !super::verify(b"secret", 1_000, b"[]", &sig, 1_100, window),
            "another body"
        );
        assert!(
            !super::verify(b"other", 1_000, b"{}", &sig, 1_100, window),
            "another key"
        );
        assert!(
            !super::verify(b"secret", 1_000, b"{}", &sig, 2_000, window),
            "a replay, later"
        );
    }
}
