//! The seam between the client and the database for `oauth_password_bootstrap`: the
//! [`TokenStore`] trait (implemented in `store::credentials`) and the sealing of the refresh
//! token with AES-256-GCM under `servicenow.token_encryption_key`.
//!
//! The store only ever sees a nonce and a ciphertext; the key and the token in clear stay here.
//! The associated data binds a ciphertext to the instance, the client id and the user, so a
//! row copied from another instance (or edited to name another user) does not open.

use std::future::Future;
use std::pin::Pin;

use aws_lc_rs::aead::{AES_256_GCM, Aad, Nonce, RandomizedNonceKey};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretSlice, SecretString};

/// What a store answers: a database error, boxed so the client does not depend on the ORM.
pub type StoreFuture<'a, T> =
    Pin<Box<dyn Future<Output = Result<T, Box<dyn std::error::Error + Send + Sync>>> + Send + 'a>>;

/// Where the refresh token of `oauth_password_bootstrap` lives between runs.
pub trait TokenStore: Send + Sync {
    /// The sealed token stored under `key`, if any.
    fn load<'a>(&'a self, key: &'a CredentialKey) -> StoreFuture<'a, Option<SealedToken>>;
    /// Stores `token` under `key`, replacing what was there.
    fn save<'a>(&'a self, key: &'a CredentialKey, token: &'a SealedToken) -> StoreFuture<'a, ()>;
}

/// Whose token a row holds: one per instance and OAuth application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialKey {
    /// The normalised instance URL (with its trailing `/`).
    pub instance_url: String,
    pub client_id: String,
}

/// A refresh token as stored: sealed, with the user it signs in and when it was obtained
/// (its lifespan runs from then).
#[derive(Debug, Clone)]
pub struct SealedToken {
    pub username: String,
    pub nonce: Vec<u8>,
    /// The token encrypted, followed by the GCM tag.
    pub ciphertext: Vec<u8>,
    pub obtained_at: DateTime<Utc>,
}

/// The key refresh tokens are sealed under.
pub struct TokenKey(RandomizedNonceKey);

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey([REDACTED])")
    }
}

/// The length of an AES-256 key.
const KEY_BYTES: usize = 32;

/// Written first into the associated data, so a ciphertext of another format or purpose
/// never opens as a refresh token.
const AAD_LABEL: &[u8] = b"snowsync oauth_password_bootstrap refresh token v1";

impl TokenKey {
    /// Reads `servicenow.token_encryption_key`: 32 bytes in standard base64. The message of
    /// a refusal never holds the value.
    pub fn from_base64(text: &SecretString) -> Result<Self, String> {
        const HOW: &str = "must be 32 random bytes in base64 (`openssl rand -base64 32`)";
        let bytes: SecretSlice<u8> = base64::engine::general_purpose::STANDARD
            .decode(text.expose_secret().trim())
            .map_err(|_| format!("{HOW}; it is not base64"))?
            .into();
        let len = bytes.expose_secret().len();
        if len != KEY_BYTES {
            return Err(format!("{HOW}; it decodes to {len} bytes"));
        }
        RandomizedNonceKey::new(&AES_256_GCM, bytes.expose_secret())
            .map(Self)
            .map_err(|_| format!("{HOW}; the crypto library refused it"))
    }

    /// Seals `token` for `key` and `username` with a fresh random nonce.
    pub(crate) fn seal(
        &self,
        key: &CredentialKey,
        username: &str,
        token: &SecretString,
        obtained_at: DateTime<Utc>,
    ) -> Result<SealedToken, String> {
        let mut in_out = token.expose_secret().as_bytes().to_vec();
        let nonce = self
            .0
            .seal_in_place_append_tag(Aad::from(associated_data(key, username)), &mut in_out)
            .map_err(|_| "sealing the refresh token failed".to_owned())?;
        Ok(SealedToken {
            username: username.to_owned(),
            nonce: nonce.as_ref().to_vec(),
            ciphertext: in_out,
            obtained_at,
        })
    }

    /// The token in `sealed`, if this key sealed it for `key` and its user; `None` otherwise
    /// (another key, another instance or client id, an edited row).
    pub(crate) fn open(&self, key: &CredentialKey, sealed: &SealedToken) -> Option<SecretString> {
        let nonce = Nonce::try_assume_unique_for_key(&sealed.nonce).ok()?;
        let mut in_out = sealed.ciphertext.clone();
        let aad = Aad::from(associated_data(key, &sealed.username));
        let plain = self.0.open_in_place(nonce, aad, &mut in_out).ok()?;
        let token = String::from_utf8(plain.to_vec())
            .ok()
            .map(SecretString::from);
        // The buffer held the token in clear; it goes no further than this function.
        in_out.fill(0);
        token
    }
}

/// The label, then each part with its length first, so no two different triples give the
/// same bytes.
fn associated_data(key: &CredentialKey, username: &str) -> Vec<u8> {
    let mut aad = AAD_LABEL.to_vec();
    for part in [key.instance_url.as_str(), key.client_id.as_str(), username] {
        let len = u32::try_from(part.len()).unwrap_or(u32::MAX);
        aad.extend_from_slice(&len.to_be_bytes());
        aad.extend_from_slice(part.as_bytes());
    }
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> TokenKey {
        let text = base64::engine::general_purpose::STANDARD.encode([byte; KEY_BYTES]);
        TokenKey::from_base64(&SecretString::from(text)).unwrap()
    }

    fn id(instance: &str, client: &str) -> CredentialKey {
        CredentialKey {
            instance_url: instance.into(),
            client_id: client.into(),
        }
    }

    #[test]
    fn a_sealed_token_opens_only_with_its_key_instance_client_and_user() {
        let here = id("https://acme.service-now.com/", "snowsync");
        let token = SecretString::from("refresh-token-value");
        let sealed = key(1).seal(&here, "svc", &token, Utc::now()).unwrap();
        assert!(
            !sealed
                .ciphertext
                .windows(token.expose_secret().len())
                .any(|w| w == token.expose_secret().as_bytes())
        );
        let opened = key(1).open(&here, &sealed).expect("opens");
        assert_eq!(opened.expose_secret(), "refresh-token-value");

        assert!(key(2).open(&here, &sealed).is_none(), "another key");
        let elsewhere = id("https://other.service-now.com/", "snowsync");
        assert!(
            key(1).open(&elsewhere, &sealed).is_none(),
            "another instance"
        );
        let other_app = id("https://acme.service-now.com/", "other");
        assert!(key(1).open(&other_app, &sealed).is_none(), "another client");
        let renamed = SealedToken {
            username: "admin".into(),
            ..sealed.clone()
        };
        assert!(key(1).open(&here, &renamed).is_none(), "another user");
    }

    #[test]
    fn each_seal_takes_a_new_nonce() {
        let here = id("https://acme.service-now.com/", "snowsync");
        let token = SecretString::from("t");
        let a = key(1).seal(&here, "svc", &token, Utc::now()).unwrap();
        let b = key(1).seal(&here, "svc", &token, Utc::now()).unwrap();
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.ciphertext, b.ciphertext);
    }

    #[test]
    fn a_key_that_is_not_32_bytes_of_base64_is_refused_without_showing_it() {
        for text in ["not base64!", "c2hvcnQ=", ""] {
            let err = TokenKey::from_base64(&SecretString::from(text)).unwrap_err();
            assert!(err.contains("openssl rand -base64 32"), "{err}");
            if !text.is_empty() {
                assert!(!err.contains(text), "{err}");
            }
        }
    }

    #[test]
    fn parts_of_the_associated_data_cannot_be_shifted_into_each_other() {
        let a = associated_data(&id("https://a/", "bc"), "d");
        let b = associated_data(&id("https://a/b", "c"), "d");
        assert_ne!(a, b);
    }
}
