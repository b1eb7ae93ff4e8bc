//! Who is calling: basic auth and bearer tokens on every API, and the OAuth token endpoint
//! (`POST /oauth_token.do`, form-encoded only) that issues, refreshes and expires tokens.
//! Accounts must also be active, unlocked sys_user rows. Never logs a secret.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use subtle::ConstantTimeEq;

use super::Sim;
use super::error::SnError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Access,
    Refresh,
}

#[derive(Debug, Clone)]
struct Token {
    kind: Kind,
    user: String,
    client: String,
    expires_at: i64,
    /// For an access token from the password grant: its refresh token.
    refresh: Option<String>,
    from_password: bool,
}

/// Issued tokens, by their value.
#[derive(Default)]
pub(crate) struct TokenStore {
    tokens: Mutex<HashMap<String, Token>>,
    /// The `jti` of every accepted assertion, with its expiry, so none is accepted twice.
    seen_jti: Mutex<HashMap<String, i64>>,
}

impl TokenStore {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Token>> {
        self.tokens.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every access and refresh token stops working.
    pub(crate) fn revoke_all(&self) {
        self.lock().clear();
    }

    /// The refresh tokens that would still be honoured, as the instance's `oauth_credential`
    /// table lists them.
    pub(crate) fn refresh_tokens(&self, now: i64) -> Vec<String> {
        self.lock()
            .iter()
            .filter(|(_, t)| t.kind == Kind::Refresh && now < t.expires_at)
            .map(|(value, _)| value.clone())
            .collect()
    }

    /// The user of a valid access token.
    fn user_of(&self, token: &str, now: i64) -> Option<String> {
        self.lock()
            .get(token)
            .filter(|t| t.kind == Kind::Access && now < t.expires_at)
            .map(|t| t.user.clone())
    }
}

/// A fresh token: 86 URL-safe characters, like the recorded one.
fn new_token() -> String {
    let mut bytes = Vec::with_capacity(64);
    for _ in 0..4 {
        bytes.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn same(a: &str, b: &SecretString) -> bool {
    a.as_bytes().ct_eq(b.expose_secret().as_bytes()).into()
}

/// Whether `user` may sign in with `password`: a configured account whose sys_user row is
/// active and not locked out.
fn check_password(sim: &Sim, user: &str, password: &str) -> bool {
    let Some(expected) = sim.passwords.get(user) else {
        return false;
    };
    if !same(password, expected) {
        return false;
    }
    let db = sim.read_db();
    let Some(def) = db.schema.table("sys_user") else {
        return false;
    };
    let (Some(active), Some(locked)) = (def.idx("active"), def.idx("locked_out")) else {
        return false;
    };
    db.find("sys_user", "user_name", user)
        .is_some_and(|r| r[active] == "true" && r[locked] != "true")
}

/// The user name behind a request's `Authorization` header.
pub(crate) fn authenticate(sim: &Sim, headers: &HeaderMap) -> Result<String, SnError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(SnError::not_authenticated)?;
    let (scheme, rest) = value
        .split_once(' ')
        .ok_or_else(SnError::not_authenticated)?;
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(SnError::not_authenticated)?;
        let (user, password) = decoded
            .split_once(':')
            .ok_or_else(SnError::not_authenticated)?;
        if check_password(sim, user, password) {
            return Ok(user.to_owned());
        }
    } else if scheme.eq_ignore_ascii_case("bearer")
        && let Some(user) = sim.tokens.user_of(rest.trim(), sim.clock.unix())
    {
        return Ok(user);
    }
    // Expired and revoked tokens get the same 401 as bad credentials (open question 17).
    Err(SnError::not_authenticated())
}

#[derive(Serialize)]
struct Issued {
    access_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    scope: &'static str,
    token_type: &'static str,
    expires_in: u64,
}

/// The common failure body, in the key order seen in the wild; its status is reported as 401
/// (open question 14).
#[derive(Serialize)]
struct Denied {
    error_description: &'static str,
    error: &'static str,
}

fn denied() -> Response {
    let body = Denied {
        error_description: "access_denied",
        error: "server_error",
    };
    json(StatusCode::UNAUTHORIZED, &body)
}

fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut resp = (status, bytes).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    resp
}

/// `POST /oauth_token.do`.
pub(crate) fn token_endpoint(sim: &Sim, headers: &HeaderMap, body: &[u8]) -> Response {
    let form_encoded = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    // A JSON body is not read: the instance answers with its unspecified failure.
    if !form_encoded {
        return denied();
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    let client_ok = field("client_id") == sim.config.oauth_client_id
        && same(field("client_secret"), &sim.config.oauth_client_secret);
    if !client_ok {
        return denied();
    }
    let now = sim.clock.unix();
    let expires_in = sim.config.expires_in;
    let access_until = now + i64::try_from(expires_in).unwrap_or(i64::MAX / 4);
    let refresh_until =
        now + i64::try_from(sim.config.refresh_token_lifespan.as_secs()).unwrap_or(i64::MAX / 4);
    let client = sim.config.oauth_client_id.clone();
    let issued = match field("grant_type") {
        "password" => {
            let user = field("username");
            if !check_password(sim, user, field("password")) {
                return denied();
            }
            let mut tokens = sim.tokens.lock();
            tokens.retain(|_, t| t.expires_at > now);
            // A valid access token from an earlier password grant is handed out again,
            // its expiry pushed out (KB0791140).
            let existing = tokens.iter_mut().find(|(_, t)| {
                t.kind == Kind::Access && t.from_password && t.user == user && t.client == client
            });
            if let Some((value, t)) = existing {
                t.expires_at = access_until;
                Issued {
                    access_token: value.clone(),
                    refresh_token: t.refresh.clone(),
                    scope: "useraccount",
                    token_type: "Bearer",
                    expires_in,
                }
            } else {
                let (access, refresh) = (new_token(), new_token());
                let base = Token {
                    kind: Kind::Refresh,
                    user: user.to_owned(),
                    client: client.clone(),
                    expires_at: refresh_until,
                    refresh: None,
                    from_password: true,
                };
                tokens.insert(refresh.clone(), base.clone());
                tokens.insert(
                    access.clone(),
                    Token {
                        kind: Kind::Access,
                        expires_at: access_until,
                        refresh: Some(refresh.clone()),
                        ..base
                    },
                );
                Issued {
                    access_token: access,
                    refresh_token: Some(refresh),
                    scope: "useraccount",
                    token_type: "Bearer",
                    expires_in,
                }
            }
        }
        "refresh_token" => {
            let mut tokens = sim.tokens.lock();
            let Some(rt) = tokens
                .get(field("refresh_token"))
                .filter(|t| t.kind == Kind::Refresh && t.client == client && now < t.expires_at)
                .cloned()
            else {
                return denied();
            };
            let access = new_token();
            tokens.insert(
                access.clone(),
                Token {
                    kind: Kind::Access,
                    expires_at: access_until,
                    refresh: None,
                    from_password: false,
                    ..rt
                },
            );
            // The refresh grant returns a new access token only.
            Issued {
                access_token: access,
                refresh_token: None,
                scope: "useraccount",
                token_type: "Bearer",
                expires_in,
            }
        }
        "client_credentials" if sim.config.client_credentials_enabled => {
            // The token acts as the entity's OAuth Application User: the integration user.
            let user = sim.config.integration.user_name.clone();
            access_only(sim, user, client, access_until, expires_in)
        }
        JWT_BEARER => {
            let Some(user) = jwt_subject_user(sim, field("assertion"), &client) else {
                return denied();
            };
            // The client signs a new assertion when the token runs out: no refresh token.
            access_only(sim, user, client, access_until, expires_in)
        }
        _ => return denied(),
    };
    json(StatusCode::OK, &issued)
}

/// An access token for `user` with no refresh token, as the client-credentials and JWT bearer
/// grants answer.
fn access_only(sim: &Sim, user: String, client: String, until: i64, expires_in: u64) -> Issued {
    let access = new_token();
    sim.tokens.lock().insert(
        access.clone(),
        Token {
            kind: Kind::Access,
            user,
            client,
            expires_at: until,
            refresh: None,
            from_password: false,
        },
    );
    Issued {
        access_token: access,
        refresh_token: None,
        scope: "useraccount",
        token_type: "Bearer",
        expires_in,
    }
}

const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

#[derive(serde::Deserialize)]
struct AssertionClaims {
    sub: String,
    exp: i64,
    jti: Option<String>,
}

/// The user an assertion signs in: the JWT provider's verifier checks the `kid`, signature,
/// `iss` and `aud` (both the client id) and expiry against the wall clock the client signs
/// with, then maps `sub` through the provider's User field to an active, unlocked sys_user.
/// With JTI verification each `jti` counts once. Every refusal looks the same to the caller.
fn jwt_subject_user(sim: &Sim, assertion: &str, client_id: &str) -> Option<String> {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation};
    let provider = sim.config.jwt_provider.as_ref()?;
    let header = jsonwebtoken::decode_header(assertion).ok()?;
    if header.kid.as_deref() != Some(provider.key_id.as_str()) {
        return None;
    }
    let pem = provider.public_key_pem.as_bytes();
    let key = match header.alg {
        Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512 => DecodingKey::from_rsa_pem(pem),
        Algorithm::ES256 | Algorithm::ES384 => DecodingKey::from_ec_pem(pem),
        _ => return None,
    }
    .ok()?;
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[client_id]);
    validation.set_issuer(&[client_id]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    let claims = jsonwebtoken::decode::<AssertionClaims>(assertion, &key, &validation)
        .ok()?
        .claims;
    if provider.jti_verification {
        let jti = claims.jti?;
        let now = chrono::Utc::now().timestamp();
        let mut seen = sim
            .tokens
            .seen_jti
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        seen.retain(|_, exp| *exp + 60 > now);
        if seen.insert(jti, claims.exp).is_some() {
            return None;
        }
    }
    let db = sim.read_db();
    let def = db.schema.table("sys_user")?;
    let (active, locked, name) = (
        def.idx("active")?,
        def.idx("locked_out")?,
        def.idx("user_name")?,
    );
    db.find("sys_user", provider.user_field.column(), &claims.sub)
        .filter(|r| r[active] == "true" && r[locked] != "true")
        .map(|r| r[name].clone())
}
