//! API-key authentication for the ingest API: `x-api-client-token` (as Oort's webhooks
//! send it) or `Authorization: Bearer`, compared in constant time.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

use super::error::ApiError;

/// The accepted keys.
#[derive(Clone)]
pub struct ApiKeys(Arc<Vec<SecretString>>);

impl ApiKeys {
    pub fn new(keys: Vec<SecretString>) -> Self {
        Self(Arc::new(keys))
    }

    /// Whether `presented` equals one of the keys. Every key is compared in full, so the
    /// time taken does not tell which key, or how much of one, matched.
    pub fn accepts(&self, presented: &[u8]) -> bool {
        self.matching(presented).is_some()
    }

    /// The place in `http.api_keys` of the key equal to `presented`. Every key is compared
    /// in full whatever matched, so the time taken does not tell which one did.
    pub fn matching(&self, presented: &[u8]) -> Option<usize> {
        let mut found = None;
        for (index, key) in self.0.iter().enumerate() {
            if bool::from(key.expose_secret().as_bytes().ct_eq(presented)) {
                found = Some(index);
            }
        }
        found
    }
}

fn presented(headers: &HeaderMap) -> Option<&[u8]> {
    if let Some(token) = headers.get("x-api-client-token") {
        return Some(token.as_bytes());
    }
    let auth = headers.get(axum::http::header::AUTHORIZATION)?.as_bytes();
    let scheme = auth.get(..7)?;
    scheme
        .eq_ignore_ascii_case(b"bearer ")
        .then(|| auth[7..].trim_ascii())
}

/// Rejects requests without an accepted key with 401.
pub async fn require_key(
    State(keys): State<ApiKeys>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    match presented(request.headers()).map(|token| keys.matching(token)) {
        Some(Some(index)) => {
            let mut response = next.run(request).await;
            response
                .extensions_mut()
                .insert(super::access_log::KeyName(format!(
                    "http.api_keys[{index}]"
                )));
            Ok(response)
        }
        Some(_) => Err(ApiError::Unauthorized("the API key is not valid")),
        None => Err(ApiError::Unauthorized(
            "an API key is required in x-api-client-token or Authorization: Bearer",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_configured_key_is_accepted() {
        let keys = ApiKeys::new(vec![
            SecretString::from("k1-0123456789abcdef"),
            SecretString::from("k2-0123456789abcdef"),
        ]);
        assert!(keys.accepts(b"k2-0123456789abcdef"));
        assert!(!keys.accepts(b"k2-0123456789abcde"));
        assert!(!keys.accepts(b""));
        assert!(!ApiKeys::new(vec![]).accepts(b"anything"));
    }
}
