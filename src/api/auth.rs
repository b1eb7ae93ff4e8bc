//! API-key authentication: `x-api-client-token` (as Oort's webhooks send it) or
//! `Authorization: Bearer`, compared in constant time. A key has one role: `ingest`
//! (`http.api_keys`: send findings and read them) or `admin` (`admin.api_keys`: that and
//! the outbox and mapping endpoints, and the console's sign-in).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

use super::error::ApiError;

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Send findings and events, read findings.
    Ingest,
    /// Everything an ingest key may, and the outbox and mapping endpoints.
    Admin,
}

/// The accepted keys, each with its role.
#[derive(Clone)]
pub struct ApiKeys(Arc<Vec<(SecretString, Role)>>);

impl ApiKeys {
    /// Ingest keys and admin keys; configuration keeps the two lists apart.
    pub fn new(ingest: Vec<SecretString>, admin: Vec<SecretString>) -> Self {
        let keys = ingest
            .into_iter()
            .map(|k| (k, Role::Ingest))
            .chain(admin.into_iter().map(|k| (k, Role::Admin)))
            .collect();
        Self(Arc::new(keys))
    }

    /// The role of `presented` and the name of the key it equals (`http.api_keys[2]`,
    /// `admin.api_keys[0]`), `None` when it is no key. Every key is compared in full
    /// whatever matched, so the time taken does not tell which key, or how much of one,
    /// matched.
    pub fn matching(&self, presented: &[u8]) -> Option<(Role, String)> {
        let mut found = None;
        let (mut ingest, mut admin) = (0usize, 0usize);
        for (key, role) in self.0.iter() {
            let index = match role {
                Role::Ingest => &mut ingest,
                Role::Admin => &mut admin,
            };
            if bool::from(key.expose_secret().as_bytes().ct_eq(presented)) {
                let list = match role {
                    Role::Ingest => "http.api_keys",
                    Role::Admin => "admin.api_keys",
                };
                // An admin key equal to an ingest key is refused by config; admin wins anyway.
                if found.as_ref().is_none_or(|(r, _)| *r != Role::Admin) {
                    found = Some((*role, format!("{list}[{index}]")));
                }
            }
            *index += 1;
        }
        found
    }

    /// The role of `presented`, `None` when it is no key.
    pub fn role_of(&self, presented: &[u8]) -> Option<Role> {
        self.matching(presented).map(|(role, _)| role)
    }

    /// Whether `presented` equals one of the keys.
    pub fn accepts(&self, presented: &[u8]) -> bool {
        self.matching(presented).is_some()
    }

    /// Whether `presented` is an admin key.
    pub fn is_admin(&self, presented: &[u8]) -> bool {
        self.role_of(presented) == Some(Role::Admin)
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

/// Rejects requests without an accepted key with 401; passes the key's role on to the
/// handlers and to [`require_admin`].
pub async fn require_key(
    State(keys): State<ApiKeys>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let (role, name) = match presented(request.headers()) {
        Some(token) => keys
            .matching(token)
            .ok_or(ApiError::Unauthorized("the API key is not valid"))?,
        None => {
            return Err(ApiError::Unauthorized(
                "an API key is required in x-api-client-token or Authorization: Bearer",
            ));
        }
    };
    request.extensions_mut().insert(role);
    let mut response = next.run(request).await;
    response
        .extensions_mut()
        .insert(super::access_log::KeyName(name));
    Ok(response)
}

/// Rejects requests whose key is not an admin key with 403; runs inside [`require_key`].
pub async fn require_admin(request: Request, next: Next) -> Result<Response, ApiError> {
    match request.extensions().get::<Role>() {
        Some(Role::Admin) => Ok(next.run(request).await),
        _ => Err(ApiError::Forbidden(
            "this endpoint needs a key with the admin role (admin.api_keys)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_configured_key_is_accepted_with_its_role() {
        let keys = ApiKeys::new(
            vec![
                SecretString::from("k1-0123456789abcdef"),
                SecretString::from("k2-0123456789abcdef"),
            ],
            vec![SecretString::from("a1-0123456789abcdef")],
        );
        assert_eq!(keys.role_of(b"k2-0123456789abcdef"), Some(Role::Ingest));
        assert_eq!(keys.role_of(b"a1-0123456789abcdef"), Some(Role::Admin));
        assert_eq!(keys.role_of(b"k2-0123456789abcde"), None);
        assert_eq!(keys.role_of(b""), None);
        assert!(keys.is_admin(b"a1-0123456789abcdef"));
        assert!(!keys.is_admin(b"k1-0123456789abcdef"));
        assert_eq!(ApiKeys::new(vec![], vec![]).role_of(b"anything"), None);
    }
}
