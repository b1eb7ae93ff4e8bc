//! Assertions for the OAuth JWT bearer grant (RFC 7523), signed by `jsonwebtoken`.
//!
//! ServiceNow's JWT provider checks that `iss` and `aud` are the client id, finds its verifier
//! by the `kid` header, maps `sub` to a user through the provider's User field, and with JTI
//! verification on (the default) accepts each `jti` once. An assertion is made for one token
//! request and lives a few minutes, so a copy caught in transit is soon worthless.

use std::fmt;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

use crate::config::JwtAlgorithm;

/// The `grant_type` of the token request.
pub(crate) const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// How long an assertion is valid: long enough for clock skew between us and the instance,
/// short enough that a leaked one is soon useless.
const LIFETIME_SECS: i64 = 300;

/// Signs assertions with the configured private key. Its `Debug` never shows the key.
pub struct JwtSigner {
    key: EncodingKey,
    header: Header,
}

impl fmt::Debug for JwtSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtSigner")
            .field("alg", &self.header.alg)
            .field("kid", &self.header.kid)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
    jti: String,
}

impl JwtSigner {
    /// A signer for `pem`, proven by signing one assertion: a key that does not parse, or does
    /// not fit `algorithm`, is refused here rather than at the first token request. The error
    /// names what is wrong, never the key.
    pub fn new(algorithm: JwtAlgorithm, key_id: &str, pem: &SecretString) -> Result<Self, String> {
        let bytes = pem.expose_secret().as_bytes();
        let (alg, key) = match algorithm {
            JwtAlgorithm::RS256 | JwtAlgorithm::RS384 | JwtAlgorithm::RS512 => {
                let alg = match algorithm {
                    JwtAlgorithm::RS256 => Algorithm::RS256,
                    JwtAlgorithm::RS384 => Algorithm::RS384,
                    _ => Algorithm::RS512,
                };
                (alg, EncodingKey::from_rsa_pem(bytes))
            }
            JwtAlgorithm::ES256 => (Algorithm::ES256, EncodingKey::from_ec_pem(bytes)),
            JwtAlgorithm::ES384 => (Algorithm::ES384, EncodingKey::from_ec_pem(bytes)),
        };
        let kind = if matches!(algorithm, JwtAlgorithm::ES256 | JwtAlgorithm::ES384) {
            "an EC private key in PEM"
        } else {
            "an RSA private key in PEM"
        };
        let key = key.map_err(|_| format!("not {kind} ({} needs one)", algorithm.as_str()))?;
        let mut header = Header::new(alg);
        header.kid = Some(key_id.to_owned());
        let signer = Self { key, header };
        signer.assertion("probe", "probe", 0).map_err(|_| {
            format!(
                "the key cannot sign {} assertions (is it {kind} of the right curve or size?)",
                algorithm.as_str()
            )
        })?;
        Ok(signer)
    }

    /// A fresh assertion for `client_id` acting as `subject`, issued at `now` (Unix seconds).
    pub fn assertion(
        &self,
        client_id: &str,
        subject: &str,
        now: i64,
    ) -> Result<SecretString, jsonwebtoken::errors::Error> {
        let claims = Claims {
            iss: client_id,
            sub: subject,
            aud: client_id,
            iat: now,
            exp: now + LIFETIME_SECS,
            jti: uuid::Uuid::new_v4().to_string(),
        };
        jsonwebtoken::encode(&self.header, &claims, &self.key).map(SecretString::from)
    }
}
