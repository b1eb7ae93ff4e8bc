//! `oauth_password_bootstrap`: the password grant once, then the refresh token it returned,
//! kept sealed in the database ([`TokenStore`]) and used for every new access token.
//!
//! ServiceNow's refresh grant answers an access token only, so a refresh token lives exactly
//! its lifespan from the password grant that issued it. In the last tenth of
//! `refresh_token_lifespan` the password, when configured, signs in again and the new token is
//! stored; without one every renewal warns until the token dies. An instance that does answer
//! a new refresh token on the refresh grant has it stored too. A refused refresh token (expired,
//! revoked) falls back to the password, or fails with an error saying the password is needed.
//!
//! Everything here runs under the token cache's lock (`auth.rs`), so one request at a time
//! reads or writes the stored token per client. Nothing here logs or returns a token.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use oauth2::TokenResponse as _;
use oauth2::basic::BasicTokenResponse;
use secrecy::{ExposeSecret, SecretString};
use tracing::{info, warn};

use super::auth::{Cache, Ctx, OAuth};
use super::error::ServiceNowError;
use super::token_store::{CredentialKey, TokenKey, TokenStore};

/// The stored token, its key, and what signs in without it.
pub(super) struct Vault {
    store: Arc<dyn TokenStore>,
    key: TokenKey,
    id: CredentialKey,
    username: String,
    password: Option<SecretString>,
    lifespan: Duration,
}

/// What the token cache knows in this mode besides the tokens themselves.
#[derive(Default)]
pub(super) struct State {
    /// When the refresh token held in the cache was obtained; `None` while it holds none.
    obtained_at: Option<DateTime<Utc>>,
    /// How the last token was obtained, for `check`.
    sign_in: Option<SignIn>,
}

/// How `oauth_password_bootstrap` signs in: what `check` and the start-up log report. It
/// names dates and reasons, never a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignIn {
    /// The refresh token stored at `obtained_at`, whose lifespan runs out at `ends`.
    StoredToken {
        obtained_at: DateTime<Utc>,
        ends: DateTime<Utc>,
        /// In the last tenth of its lifespan: the password renews it, or is needed soon.
        renewal_due: bool,
        password_set: bool,
    },
    /// The password grant, for the reason given; the refresh token it returns is stored.
    Password(Why),
}

/// Why the password signs in rather than the stored refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    NothingStored,
    /// The stored token was obtained for another `servicenow.username`.
    OtherUser,
    /// `servicenow.token_encryption_key` does not open the stored token.
    KeyDoesNotOpen,
    /// The instance refused the stored token: expired or revoked.
    Refused,
    /// The stored token is in the last tenth of its lifespan.
    Renewal,
}

impl fmt::Display for SignIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::StoredToken {
                obtained_at, ends, ..
            } => write!(
                f,
                "stored refresh token from {}, its lifespan ends about {}",
                day_and_time(*obtained_at),
                day_and_time(*ends)
            ),
            Self::Password(why) => write!(f, "password bootstrap: {why}"),
        }
    }
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NothingStored => "no refresh token was stored yet",
            Self::OtherUser => "the stored refresh token was another user's",
            Self::KeyDoesNotOpen => {
                "the stored refresh token does not open with servicenow.token_encryption_key"
            }
            Self::Refused => "the stored refresh token was refused (expired or revoked)",
            Self::Renewal => "the stored refresh token was near the end of its lifespan",
        })
    }
}

fn day_and_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

impl Vault {
    pub(super) fn new(
        store: Arc<dyn TokenStore>,
        key: TokenKey,
        id: CredentialKey,
        username: String,
        password: Option<SecretString>,
        lifespan: Duration,
    ) -> Self {
        Self {
            store,
            key,
            id,
            username,
            password,
            lifespan,
        }
    }

    /// How the next token will be obtained (or how the last one was), reading the store when
    /// the cache holds no refresh token; an error when neither the store nor the configuration
    /// can sign in.
    pub(super) async fn sign_in(&self, cache: &mut Cache) -> Result<SignIn, ServiceNowError> {
        if let Some(sign_in) = &cache.bootstrap.sign_in {
            return Ok(sign_in.clone());
        }
        match self.take_stored(cache).await? {
            None => Ok(self.stored_sign_in(cache, Utc::now())),
            Some(why) if self.password.is_some() => Ok(SignIn::Password(why)),
            Some(why) => Err(self.needs_password(why, None)),
        }
    }

    /// A new access token: by the stored refresh token, else by the password, storing the
    /// refresh token the password grant returns.
    pub(super) async fn renew(
        &self,
        oauth: &OAuth,
        cache: &mut Cache,
        ctx: &Ctx<'_>,
    ) -> Result<(&'static str, BasicTokenResponse), ServiceNowError> {
        let now = Utc::now();
        let mut why = self.take_stored(cache).await?;
        let mut refused_from = None;
        if why.is_none() && self.renewal_due(cache, now) {
            self.adopt_newer(cache).await?;
        }
        if let (None, Some(refresh)) = (why, cache.refresh.clone()) {
            let due = self.renewal_due(cache, now);
            if due && self.password.is_some() {
                why = Some(Why::Renewal);
            } else {
                if due {
                    warn!(
                        instance = %self.id.instance_url,
                        ends = %self.ends(cache).map(day_and_time).unwrap_or_default(),
                        "the stored refresh token's lifespan ends soon and servicenow.password is not set: ServiceNow does not renew it on refresh; set servicenow.password before then so snowsync can sign in once more and store a new one"
                    );
                }
                match oauth.refresh_grant(&refresh, ctx).await {
                    Ok(response) => {
                        self.keep_rotated(cache, &refresh, &response, now).await?;
                        cache.bootstrap.sign_in = Some(self.stored_sign_in(cache, now));
                        return Ok(("refresh_token", response));
                    }
                    Err(e) if e.is_auth() => {
                        refused_from = cache.bootstrap.obtained_at;
                        warn!(
                            instance = %self.id.instance_url,
                            error = %e,
                            password_set = self.password.is_some(),
                            "the stored refresh token was refused (expired or revoked): the password is needed again"
                        );
                        cache.token = None;
                        cache.refresh = None;
                        cache.bootstrap.obtained_at = None;
                        why = Some(Why::Refused);
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        let why = why.unwrap_or(Why::NothingStored);
        let Some(password) = &self.password else {
            return Err(self.needs_password(why, refused_from));
        };
        match why {
            Why::KeyDoesNotOpen | Why::OtherUser => warn!(
                instance = %self.id.instance_url,
                reason = %why,
                "signing in with servicenow.password: its refresh token replaces the stored one"
            ),
            _ => info!(
                instance = %self.id.instance_url,
                reason = %why,
                "signing in with servicenow.password to store a refresh token"
            ),
        }
        let response = oauth.password_grant(&self.username, password, ctx).await?;
        match response.refresh_token() {
            Some(new)
                if cache
                    .refresh
                    .as_ref()
                    .is_none_or(|old| old.expose_secret() != new.secret()) =>
            {
                self.save(cache, &SecretString::from(new.secret().to_owned()), now)
                    .await?;
            }
            // The same token again: a password grant while its access token lives answers
            // both unchanged (KB0791140), so there is nothing newer to store.
            Some(_) => {}
            None => warn!(
                instance = %self.id.instance_url,
                "the password grant answered no refresh token: nothing is stored and the password stays needed"
            ),
        }
        cache.bootstrap.sign_in = Some(SignIn::Password(why));
        Ok(("password", response))
    }

    /// Loads the stored token into the cache unless it holds one; why the password is needed
    /// when nothing usable is stored.
    async fn take_stored(&self, cache: &mut Cache) -> Result<Option<Why>, ServiceNowError> {
        if cache.refresh.is_some() {
            return Ok(None);
        }
        let Some(sealed) = self.store.load(&self.id).await.map_err(store_error)? else {
            return Ok(Some(Why::NothingStored));
        };
        if sealed.username != self.username {
            return Ok(Some(Why::OtherUser));
        }
        match self.key.open(&self.id, &sealed) {
            Some(token) => {
                cache.refresh = Some(token);
                cache.bootstrap.obtained_at = Some(sealed.obtained_at);
                Ok(None)
            }
            None => Ok(Some(Why::KeyDoesNotOpen)),
        }
    }

    /// Takes the stored token if it is newer than the one held: another instance sharing the
    /// database may have renewed it with its password.
    async fn adopt_newer(&self, cache: &mut Cache) -> Result<(), ServiceNowError> {
        let Some(sealed) = self.store.load(&self.id).await.map_err(store_error)? else {
            return Ok(());
        };
        let newer = cache
            .bootstrap
            .obtained_at
            .is_none_or(|held| sealed.obtained_at > held);
        if newer
            && sealed.username == self.username
            && let Some(token) = self.key.open(&self.id, &sealed)
        {
            cache.refresh = Some(token);
            cache.bootstrap.obtained_at = Some(sealed.obtained_at);
        }
        Ok(())
    }

    /// Stores a refresh token the refresh grant answered in place of `used`.
    async fn keep_rotated(
        &self,
        cache: &mut Cache,
        used: &SecretString,
        response: &BasicTokenResponse,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceNowError> {
        match response.refresh_token() {
            Some(new) if new.secret() != used.expose_secret() => {
                self.save(cache, &SecretString::from(new.secret().to_owned()), now)
                    .await
            }
            _ => Ok(()),
        }
    }

    async fn save(
        &self,
        cache: &mut Cache,
        token: &SecretString,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceNowError> {
        let sealed = self
            .key
            .seal(&self.id, &self.username, token, now)
            .map_err(ServiceNowError::StoredToken)?;
        self.store
            .save(&self.id, &sealed)
            .await
            .map_err(store_error)?;
        cache.bootstrap.obtained_at = Some(now);
        info!(
            instance = %self.id.instance_url,
            client_id = %self.id.client_id,
            user = %self.username,
            "stored the refresh token, encrypted"
        );
        Ok(())
    }

    fn stored_sign_in(&self, cache: &Cache, now: DateTime<Utc>) -> SignIn {
        let obtained_at = cache.bootstrap.obtained_at.unwrap_or(now);
        SignIn::StoredToken {
            obtained_at,
            ends: self.ends(cache).unwrap_or(DateTime::<Utc>::MAX_UTC),
            renewal_due: self.renewal_due(cache, now),
            password_set: self.password.is_some(),
        }
    }

    /// When the held refresh token's lifespan runs out.
    fn ends(&self, cache: &Cache) -> Option<DateTime<Utc>> {
        let lifespan = chrono::TimeDelta::from_std(self.lifespan).ok()?;
        cache.bootstrap.obtained_at?.checked_add_signed(lifespan)
    }

    /// Whether the held refresh token is in the last tenth of its lifespan.
    fn renewal_due(&self, cache: &Cache, now: DateTime<Utc>) -> bool {
        let Ok(margin) = chrono::TimeDelta::from_std(self.lifespan / 10) else {
            return false;
        };
        self.ends(cache)
            .and_then(|ends| ends.checked_sub_signed(margin))
            .is_some_and(|from| now >= from)
    }

    /// The error when only the password could sign in and none is configured: what is
    /// wrong and what to do, naming the keys.
    fn needs_password(&self, why: Why, obtained_at: Option<DateTime<Utc>>) -> ServiceNowError {
        let whose = format!("{} (client id {})", self.id.instance_url, self.id.client_id);
        const SET: &str = "set servicenow.password (or servicenow.password_file)";
        // The configuration is read at start only: a running service needs a restart.
        const RESTART: &str = "and restart a running service";
        let (grant, message) = match why {
            Why::NothingStored => (
                "password",
                format!(
                    "no refresh token is stored for {whose} and servicenow.password is not set: {SET} for the first start; snowsync signs in with it once, stores the refresh token encrypted, and the password may then be removed"
                ),
            ),
            Why::OtherUser => (
                "password",
                format!(
                    "the refresh token stored for {whose} was obtained for another user than servicenow.username {user}: {SET} {RESTART}, so {user} signs in once and its refresh token is stored",
                    user = self.username
                ),
            ),
            Why::KeyDoesNotOpen => (
                "refresh_token",
                format!(
                    "servicenow.token_encryption_key does not open the refresh token stored for {whose}: it was stored under another key, or copied from another instance; configure the key it was stored with, or {SET} {RESTART} to sign in once more and store a new token under this key"
                ),
            ),
            Why::Refused | Why::Renewal => (
                "refresh_token",
                format!(
                    "the refresh token stored for {whose}{} was refused: it expired or was revoked, and the password is needed again; {SET} {RESTART}, so snowsync signs in once more and stores a new one",
                    obtained_at
                        .map(|at| format!(", obtained {},", day_and_time(at)))
                        .unwrap_or_default()
                ),
            ),
        };
        ServiceNowError::Auth { grant, message }
    }
}

fn store_error(e: Box<dyn std::error::Error + Send + Sync>) -> ServiceNowError {
    ServiceNowError::StoredToken(format!("the database: {e}"))
}
