//! `notify_source` delivery: POST the change to the source's webhook, HMAC-signed.
//!
//! The body is signed with HMAC-SHA256 under the source's `hmac_secret`; the hex digest
//! travels in `x-snowsync-signature: sha256=<hex>` so the receiver can verify the sender.

use std::collections::BTreeMap;
use std::time::Duration;

use hmac::{KeyInit, Mac};
use secrecy::ExposeSecret;

use super::Delivery;
use crate::config::SourceConfig;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// Signs `body` with `secret`: the value of the `x-snowsync-signature` header.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    // Invariant: HMAC accepts keys of any length, so new_from_slice cannot fail.
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Sends source notifications; one HTTP client for every source.
#[derive(Clone)]
pub struct Notifier {
    http: reqwest::Client,
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
        Ok(Self { http, sources })
    }

    /// Delivers `body` to `source`. A source without a webhook has nothing to deliver.
    pub async fn notify(&self, source: &str, body: &serde_json::Value) -> Delivery {
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
            request = request.header(
                "x-snowsync-signature",
                signature(secret.expose_secret().as_bytes(), &bytes),
            );
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
                    }
                } else {
                    Delivery::Dead { reason }
                }
            }
            Err(err) => Delivery::Retry {
                after: None,
                reason: format!("source {source} webhook unreachable: {}", without_url(&err)),
                maybe_applied: false,
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
    fn signature_is_the_hex_hmac_sha256_of_the_body() {
        // RFC 4231 test case 2.
        assert_eq!(
            super::signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
