//! Credentials for the instance: basic auth, or OAuth tokens (password grant with refresh,
//! the same with the refresh token stored (`bootstrap.rs`), client credentials, JWT bearer)
//! obtained through the `oauth2` crate and cached until shortly before they expire.
//!
//! One lock serialises token requests, so two callers never ask for a token for the same
//! credentials at once. Secrets stay `SecretString`; they are exposed only to build a header or
//! a token request, and never logged or put into an error.

use std::sync::atomic::AtomicU16;
use std::time::Duration;

use base64::Engine as _;
use oauth2::basic::{BasicClient, BasicErrorResponse, BasicTokenResponse};
use oauth2::{
    AsyncHttpClient as _, AuthType, ClientId, ClientSecret, EndpointNotSet, EndpointSet,
    RefreshToken, RequestTokenError, ResourceOwnerPassword, ResourceOwnerUsername, TokenResponse,
    TokenUrl,
};
use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};
use tokio::time::Instant;
use tracing::info;

use super::bootstrap::{self, SignIn, Vault};
use super::error::ServiceNowError;
use super::flow::Flow;
use super::jwt::{self, JwtSigner};
use super::token_http::{TokenHttp, token_error};

/// The token endpoint, relative to the instance URL.
pub(crate) const TOKEN_PATH: &str = "oauth_token.do";

/// Assumed when a token response has no `expires_in` (ServiceNow's default lifespan).
const DEFAULT_LIFETIME: Duration = Duration::from_secs(1800);

type OAuthClient =
    BasicClient<EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// How requests are authenticated.
pub(crate) enum Auth {
    Basic {
        username: String,
        password: SecretString,
    },
    OAuth(Box<OAuth>),
}

pub(crate) struct OAuth {
    client: OAuthClient,
    grant: Grant,
    cache: tokio::sync::Mutex<Cache>,
}

pub(crate) enum Grant {
    /// A grant whose refresh token, if it answers one, lives in memory only.
    Direct(DirectGrant),
    /// The refresh token kept in the database, the password only while none is usable.
    Bootstrap(Box<Vault>),
}

pub(crate) enum DirectGrant {
    Password {
        username: String,
        password: SecretString,
    },
    ClientCredentials,
    /// A signed assertion for `subject`, made anew for every token request (the instance
    /// accepts each `jti` once). `oauth2` has no request type for this grant; the form is
    /// ours, the response types are its own.
    JwtBearer {
        signer: Box<JwtSigner>,
        subject: String,
        client_secret: SecretString,
    },
}

#[derive(Default)]
pub(super) struct Cache {
    pub(super) token: Option<Token>,
    /// The refresh token the next renewal tries first: the last one the instance answered, or
    /// in bootstrap mode the stored one.
    pub(super) refresh: Option<SecretString>,
    generation: u64,
    pub(super) bootstrap: bootstrap::State,
}

pub(super) struct Token {
    access: SecretString,
    expires_at: Instant,
    lifetime: Duration,
    generation: u64,
}

impl Token {
    /// Usable without renewal: more than a margin before expiry, so a request never leaves
    /// with a token about to die in flight. The margin is a tenth of the lifetime, between one
    /// second (`expires_in` counts whole seconds) and a minute, and at most half the lifetime.
    fn fresh(&self, now: Instant) -> bool {
        let margin = (self.lifetime / 10)
            .clamp(Duration::from_secs(1), Duration::from_secs(60))
            .min(self.lifetime / 2);
        now + margin < self.expires_at
    }
}

/// The `Authorization` header for one request, and which token it carries.
pub(crate) struct Credential {
    pub header: HeaderValue,
    /// Identifies the token used, so that a 401 renews that token and not a newer one.
    pub generation: u64,
}

/// What a token request needs from the transport.
pub(crate) struct Ctx<'a> {
    pub http: &'a reqwest::Client,
    pub flow: &'a Flow,
    pub timeout: Duration,
}

impl Auth {
    pub(crate) fn basic(username: String, password: SecretString) -> Self {
        Self::Basic { username, password }
    }

    pub(crate) fn oauth(
        token_url: url::Url,
        client_id: String,
        client_secret: &SecretString,
        grant: Grant,
    ) -> Self {
        let client = BasicClient::new(ClientId::new(client_id))
            .set_client_secret(ClientSecret::new(client_secret.expose_secret().to_owned()))
            // ServiceNow reads client_id and client_secret from the form body.
            .set_auth_type(AuthType::RequestBody)
            .set_token_uri(TokenUrl::from_url(token_url));
        Self::OAuth(Box::new(OAuth {
            client,
            grant,
            cache: tokio::sync::Mutex::new(Cache::default()),
        }))
    }

    /// Whether a 401 can be answered by getting a new token.
    pub(crate) fn renewable(&self) -> bool {
        matches!(self, Self::OAuth(_))
    }

    /// The credential for the next request, renewing the token first when it is near expiry.
    pub(crate) async fn credential(&self, ctx: &Ctx<'_>) -> Result<Credential, ServiceNowError> {
        match self {
            Self::Basic { username, password } => {
                let raw = format!("{username}:{}", password.expose_secret());
                let encoded = base64::engine::general_purpose::STANDARD.encode(raw);
                Ok(Credential {
                    header: sensitive(&format!("Basic {encoded}"))?,
                    generation: 0,
                })
            }
            Self::OAuth(o) => o.credential(ctx).await,
        }
    }

    /// After a 401 on a request made with `generation`: renew that token (refresh grant, then
    /// a new password grant if the refresh token is dead). A no-op when another caller has
    /// already replaced it.
    pub(crate) async fn after_unauthorized(
        &self,
        generation: u64,
        ctx: &Ctx<'_>,
    ) -> Result<(), ServiceNowError> {
        let Self::OAuth(o) = self else {
            return Ok(());
        };
        let mut cache = o.cache.lock().await;
        // `u64::MAX` names no token: renew whatever is cached.
        if let Some(t) = &cache.token
            && generation != u64::MAX
            && t.generation != generation
            && t.fresh(Instant::now())
        {
            return Ok(());
        }
        if let Some(t) = &mut cache.token {
            // The access token is dead; its refresh token may still be good.
            t.expires_at = Instant::now();
        }
        o.renew(&mut cache, ctx).await.map(drop)
    }

    /// In `oauth_password_bootstrap` mode, how the client signs in (or signed in last): the
    /// stored refresh token or the password, and an error when it can do neither. Reads the
    /// database, sends nothing. `None` in every other mode.
    pub(crate) async fn sign_in(&self) -> Result<Option<SignIn>, ServiceNowError> {
        let Self::OAuth(o) = self else {
            return Ok(None);
        };
        let Grant::Bootstrap(vault) = &o.grant else {
            return Ok(None);
        };
        let mut cache = o.cache.lock().await;
        vault.sign_in(&mut cache).await.map(Some)
    }
}

impl OAuth {
    async fn credential(&self, ctx: &Ctx<'_>) -> Result<Credential, ServiceNowError> {
        let mut cache = self.cache.lock().await;
        if let Some(t) = &cache.token
            && t.fresh(Instant::now())
        {
            return bearer(t);
        }
        self.renew(&mut cache, ctx).await
    }

    /// Gets a new access token while holding the cache lock.
    async fn renew(&self, cache: &mut Cache, ctx: &Ctx<'_>) -> Result<Credential, ServiceNowError> {
        let (grant, response) = match &self.grant {
            Grant::Direct(direct) => self.renew_in_memory(direct, cache, ctx).await?,
            Grant::Bootstrap(vault) => vault.renew(self, cache, ctx).await?,
        };
        let lifetime = response.expires_in().unwrap_or(DEFAULT_LIFETIME);
        if let Some(r) = response.refresh_token() {
            cache.refresh = Some(SecretString::from(r.secret().to_owned()));
        }
        cache.generation += 1;
        let token = Token {
            access: SecretString::from(response.access_token().secret().to_owned()),
            expires_at: Instant::now() + lifetime,
            lifetime,
            generation: cache.generation,
        };
        info!(
            grant,
            expires_in = lifetime.as_secs(),
            has_refresh_token = cache.refresh.is_some(),
            "obtained ServiceNow access token"
        );
        let credential = bearer(&token);
        cache.token = Some(token);
        credential
    }

    /// A token by the refresh token held in memory, else by the configured grant.
    async fn renew_in_memory(
        &self,
        grant: &DirectGrant,
        cache: &mut Cache,
        ctx: &Ctx<'_>,
    ) -> Result<(&'static str, BasicTokenResponse), ServiceNowError> {
        if let Some(refresh) = cache.refresh.clone() {
            match self.refresh_grant(&refresh, ctx).await {
                Ok(r) => return Ok(("refresh_token", r)),
                // A refused refresh token is dead (expired, revoked): start over below.
                Err(e) if e.is_auth() => {
                    info!(error = %e, "refresh token refused, requesting a new token");
                    cache.token = None;
                    cache.refresh = None;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(match grant {
            DirectGrant::Password { username, password } => (
                "password",
                self.password_grant(username, password, ctx).await?,
            ),
            DirectGrant::ClientCredentials => (
                "client_credentials",
                self.client_credentials_grant(ctx).await?,
            ),
            DirectGrant::JwtBearer {
                signer,
                subject,
                client_secret,
            } => (
                "jwt_bearer",
                self.jwt_bearer_grant(signer, subject, client_secret, ctx)
                    .await?,
            ),
        })
    }

    pub(super) async fn password_grant(
        &self,
        username: &str,
        password: &SecretString,
        ctx: &Ctx<'_>,
    ) -> Result<BasicTokenResponse, ServiceNowError> {
        let status = AtomicU16::new(0);
        let call = TokenHttp {
            ctx,
            status: &status,
        };
        self.client
            .exchange_password(
                &ResourceOwnerUsername::new(username.to_owned()),
                &ResourceOwnerPassword::new(password.expose_secret().to_owned()),
            )
            .request_async(&call)
            .await
            .map_err(|e| token_error("password", &status, e))
    }

    pub(super) async fn refresh_grant(
        &self,
        refresh: &SecretString,
        ctx: &Ctx<'_>,
    ) -> Result<BasicTokenResponse, ServiceNowError> {
        let status = AtomicU16::new(0);
        let call = TokenHttp {
            ctx,
            status: &status,
        };
        self.client
            .exchange_refresh_token(&RefreshToken::new(refresh.expose_secret().to_owned()))
            .request_async(&call)
            .await
            .map_err(|e| token_error("refresh_token", &status, e))
    }

    async fn client_credentials_grant(
        &self,
        ctx: &Ctx<'_>,
    ) -> Result<BasicTokenResponse, ServiceNowError> {
        let status = AtomicU16::new(0);
        let call = TokenHttp {
            ctx,
            status: &status,
        };
        self.client
            .exchange_client_credentials()
            .request_async(&call)
            .await
            .map_err(|e| token_error("client_credentials", &status, e))
    }
}

impl OAuth {
    async fn jwt_bearer_grant(
        &self,
        signer: &JwtSigner,
        subject: &str,
        client_secret: &SecretString,
        ctx: &Ctx<'_>,
    ) -> Result<BasicTokenResponse, ServiceNowError> {
        const GRANT: &str = "jwt_bearer";
        let client_id = self.client.client_id().as_str();
        let assertion = signer
            .assertion(client_id, subject, chrono::Utc::now().timestamp())
            .map_err(|e| ServiceNowError::Auth {
                grant: GRANT,
                message: format!("signing the assertion failed: {e}"),
            })?;
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", jwt::GRANT_TYPE)
            .append_pair("client_id", client_id)
            .append_pair("client_secret", client_secret.expose_secret())
            .append_pair("assertion", assertion.expose_secret())
            .finish();
        let request = oauth2::http::Request::builder()
            .method(oauth2::http::Method::POST)
            .uri(self.client.token_uri().as_str())
            .header(
                oauth2::http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(oauth2::http::header::ACCEPT, "application/json")
            .body(form.into_bytes())
            .map_err(|e| ServiceNowError::Setup(format!("token request: {e}")))?;
        let status = AtomicU16::new(0);
        let call = TokenHttp {
            ctx,
            status: &status,
        };
        let response = call.call(request).await?;
        token_response(response).map_err(|e| token_error(GRANT, &status, e))
    }
}

/// Reads a token endpoint's answer as `oauth2` would: the token on 200, its error response
/// otherwise.
fn token_response(
    response: oauth2::HttpResponse,
) -> Result<BasicTokenResponse, RequestTokenError<ServiceNowError, BasicErrorResponse>> {
    let body = response.body();
    let mut json = serde_json::Deserializer::from_slice(body);
    if response.status() == oauth2::http::StatusCode::OK {
        serde_path_to_error::deserialize(&mut json)
            .map_err(|e| RequestTokenError::Parse(e, Vec::new()))
    } else {
        match serde_path_to_error::deserialize::<_, BasicErrorResponse>(&mut json) {
            Ok(refusal) => Err(RequestTokenError::ServerResponse(refusal)),
            Err(e) => Err(RequestTokenError::Parse(e, Vec::new())),
        }
    }
}

fn bearer(token: &Token) -> Result<Credential, ServiceNowError> {
    Ok(Credential {
        header: sensitive(&format!("Bearer {}", token.access.expose_secret()))?,
        generation: token.generation,
    })
}

/// A header value marked sensitive, so HTTP-level logging never prints it.
fn sensitive(text: &str) -> Result<HeaderValue, ServiceNowError> {
    let mut value = HeaderValue::from_str(text).map_err(|_| {
        ServiceNowError::Setup("credentials contain characters not allowed in a header".into())
    })?;
    value.set_sensitive(true);
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(lifetime_secs: u64, issued: Instant) -> Token {
        let lifetime = Duration::from_secs(lifetime_secs);
        Token {
            access: SecretString::from("t"),
            expires_at: issued + lifetime,
            lifetime,
            generation: 1,
        }
    }

    #[test]
    fn tokens_are_renewed_a_margin_before_they_expire() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        // lifetime, still fresh at, stale at
        let cases = [
            (1799, ms(1_738_000), ms(1_739_000)), // a minute before expiry
            (300, ms(269_000), ms(270_000)),      // a tenth of the lifetime
            (2, ms(900), ms(1_000)),              // at least a second
            (1, ms(400), ms(500)),                // at most half the lifetime
        ];
        for (lifetime, fresh, stale) in cases {
            let t = token(lifetime, t0);
            assert!(t.fresh(t0 + fresh), "{lifetime} s token at {fresh:?}");
            assert!(!t.fresh(t0 + stale), "{lifetime} s token at {stale:?}");
        }
    }
}
