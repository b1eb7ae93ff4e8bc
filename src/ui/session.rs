//! Console sessions: a random token in an HttpOnly, SameSite=Strict cookie, and per session
//! a CSRF token every form carries back. Held in memory only: a restart signs everyone out.
//!
//! A session starts anonymous when the sign-in form is shown (so the sign-in POST is
//! CSRF-checked too), and signing in replaces it with a new token, so a token planted
//! before sign-in is worth nothing after it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The cookie that carries the session token.
pub const COOKIE: &str = "snowsync_session";

/// How long an anonymous session (a sign-in form shown) lasts.
const ANONYMOUS_TTL: Duration = Duration::from_secs(15 * 60);

/// At most this many sessions are kept; beyond it, anonymous ones are dropped first.
const MAX_SESSIONS: usize = 10_000;

/// The console's sessions; cheap to clone.
#[derive(Clone)]
pub struct Sessions {
    inner: Arc<Mutex<HashMap<[u8; 32], Session>>>,
    ttl: Duration,
}

#[derive(Clone)]
struct Session {
    csrf: String,
    signed_in: bool,
    expires: Instant,
}

/// A session as a request finds it.
#[derive(Debug, Clone)]
pub struct Current {
    pub token: String,
    pub csrf: String,
    pub signed_in: bool,
}

impl Current {
    /// Whether `presented` is this session's CSRF token, compared in constant time.
    pub fn csrf_matches(&self, presented: &str) -> bool {
        self.csrf.as_bytes().ct_eq(presented.as_bytes()).into()
    }
}

/// 244 random bits from the operating system's generator, as 64 hex characters.
fn random_token() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// Sessions are kept by the hash of their token, so the map holds no usable token.
fn key(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Sessions {
    /// Sessions that last `ttl` after sign-in.
    pub fn new(ttl: Duration) -> Self {
        Self {
            inner: Arc::new(Mutex::new(HashMap::new())),
            ttl,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Session>> {
        // A panic while holding the lock leaves the map whole: every change is one insert
        // or remove.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn insert(&self, signed_in: bool, ttl: Duration) -> Current {
        let token = random_token();
        let csrf = random_token();
        let now = Instant::now();
        let mut map = self.lock();
        map.retain(|_, s| s.expires > now);
        if map.len() >= MAX_SESSIONS {
            map.retain(|_, s| s.signed_in);
        }
        map.insert(
            key(&token),
            Session {
                csrf: csrf.clone(),
                signed_in,
                expires: now + ttl,
            },
        );
        Current {
            token,
            csrf,
            signed_in,
        }
    }

    /// A new anonymous session, for the sign-in form.
    pub fn anonymous(&self) -> Current {
        self.insert(false, ANONYMOUS_TTL)
    }

    /// Signs in: ends `previous` (the anonymous session of the form) and starts a new one.
    pub fn sign_in(&self, previous: &Current) -> Current {
        self.end(&previous.token);
        self.insert(true, self.ttl)
    }

    /// The live session of `token`, if any.
    pub fn get(&self, token: &str) -> Option<Current> {
        let now = Instant::now();
        let map = self.lock();
        let session = map.get(&key(token)).filter(|s| s.expires > now)?;
        Some(Current {
            token: token.to_owned(),
            csrf: session.csrf.clone(),
            signed_in: session.signed_in,
        })
    }

    /// Ends the session of `token`.
    pub fn end(&self, token: &str) {
        self.lock().remove(&key(token));
    }

    /// The live session whose token the request's cookie carries.
    pub fn of_request(&self, headers: &HeaderMap) -> Option<Current> {
        cookie(headers, COOKIE).and_then(|token| self.get(&token))
    }

    /// How long a signed-in session lasts.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }
}

/// The value of the cookie `name` in the request's `Cookie` headers.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.to_owned())
}

/// The `Set-Cookie` value carrying `token`: HttpOnly, SameSite=Strict, for `/ui` only.
pub fn set_cookie(token: &str, max_age: Duration) -> String {
    format!(
        "{COOKIE}={token}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={}",
        max_age.as_secs()
    )
}

/// The `Set-Cookie` value that removes the cookie.
pub fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// How long an anonymous session's cookie is kept.
pub fn anonymous_ttl() -> Duration {
    ANONYMOUS_TTL
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_in_replaces_the_anonymous_session_with_a_new_token() {
        let sessions = Sessions::new(Duration::from_secs(60));
        let anonymous = sessions.anonymous();
        assert!(!anonymous.signed_in);
        let signed_in = sessions.sign_in(&anonymous);
        assert!(signed_in.signed_in);
        assert_ne!(signed_in.token, anonymous.token);
        assert_ne!(signed_in.csrf, anonymous.csrf);
        assert!(sessions.get(&anonymous.token).is_none());
        assert!(sessions.get(&signed_in.token).is_some_and(|s| s.signed_in));
        sessions.end(&signed_in.token);
        assert!(sessions.get(&signed_in.token).is_none());
    }

    #[test]
    fn only_the_sessions_own_csrf_token_matches() {
        let sessions = Sessions::new(Duration::from_secs(60));
        let one = sessions.anonymous();
        let other = sessions.anonymous();
        assert!(one.csrf_matches(&one.csrf.clone()));
        assert!(!one.csrf_matches(&other.csrf));
        assert!(!one.csrf_matches(""));
    }

    #[test]
    fn the_cookie_is_read_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            axum::http::header::COOKIE,
            "a=1; snowsync_session=abc; b=2".parse().expect("header"),
        );
        assert_eq!(cookie(&headers, COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&HeaderMap::new(), COOKIE), None);
    }
}
