//! The ServiceNow client: the only part of snowsync that knows ServiceNow URLs, table and
//! field names, and status codes.
//!
//! It authenticates (basic, OAuth password grant with refresh, the same with the refresh
//! token stored in the database, OAuth client credentials, OAuth JWT bearer),
//! reads and writes records through the Table API and the Batch API, resolves reference names
//! to sys_ids, discovers fields and choices, and tags records. It limits concurrency and pace,
//! and pauses every caller after a 429. It does not retry failures over time: it classifies
//! them ([`ServiceNowError::classify`]) and the outbox keeps the schedule.
//!
//! - `transport`: one HTTP exchange (auth, flow control, metrics, errors)
//! - `auth`: credentials and the token cache; `token_http`: `oauth2` over our reqwest client
//! - `bootstrap`: `oauth_password_bootstrap`, the refresh token kept in a [`TokenStore`],
//!   sealed by `token_store`
//! - `fence`: the check a write passes right before it is sent
//! - `flow`: the concurrency and pace limits and the shared 429 pause
//! - `wire`: records, envelopes, `Link` headers; `error`: the error type and its classification
//! - `table`, `batch`, `reference`, `discovery`, `tags`: the operations
//! - `lengths`: the String fields' lengths from the dictionary, cached per table
//! - `changes`: reverse sync's reads, our records changed since a watermark
//! - `report`: the online lines of `snowsync check` and the `snowsync fields` listing

mod auth;
mod batch;
mod bootstrap;
mod changes;
mod discovery;
mod error;
mod fence;
mod flow;
mod jwt;
mod lengths;
#[cfg(test)]
mod link_properties;
mod reference;
pub mod report;
mod table;
mod tags;
mod token_http;
mod token_store;
mod transport;
mod wire;

use std::fmt;
use std::sync::Arc;

use secrecy::SecretString;

pub use batch::{BatchRequest, BatchResponse};
pub use bootstrap::{SignIn, Why};
pub use changes::{APPROVALS_TABLE, CHANGES_PAGE_SIZE, ChangeScope};
pub use discovery::{Choice, FieldInfo};
pub use error::{Disposition, ServiceNowError};
pub use fence::{Fence, FenceFuture, WriteFence};
pub use jwt::JwtSigner;
pub use lengths::StringLengths;
pub use reference::{ReferenceError, ReferenceKind, UserDetails};
pub use table::Journal;
pub use token_store::{CredentialKey, SealedToken, StoreFuture, TokenKey, TokenStore};
pub use wire::{Record, format_datetime, parse_datetime, record_link};

use crate::config::{AuthMode, ServiceNowConfig};
use auth::{Auth, DirectGrant, Grant};
use bootstrap::Vault;
use flow::Flow;
use transport::Transport;

/// A client for one instance. Cheap to clone; clones share the token cache, the limits and
/// the 429 pause.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
    /// Consulted before every write this client sends (`Client::fenced`).
    fence: Option<Fence>,
}

struct Inner {
    transport: Transport,
    mode: AuthMode,
    username: Option<String>,
    /// How the client signs in, for `check` and error lines: the mode and its identity.
    principal: String,
    references: reference::Cache,
    string_lengths: lengths::Cache,
    labels: tags::Cache,
    batch_support: batch::Support,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("instance", &self.inner.transport.base.as_str())
            .field("auth", &self.inner.mode)
            .field("username", &self.inner.username)
            .finish_non_exhaustive()
    }
}

/// The certificates of `ca_file`, checked as the client will use them: readable, a PEM
/// bundle, at least one certificate, and accepted by the TLS stack. Config validation runs
/// this too, so `check --offline` refuses exactly the files `serve` refuses.
pub fn ca_certificates(path: &std::path::Path) -> Result<Vec<reqwest::Certificate>, String> {
    let shown = path.display();
    let pem =
        std::fs::read(path).map_err(|e| format!("servicenow.ca_file: cannot read {shown}: {e}"))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| format!("servicenow.ca_file: {shown} is not a PEM bundle: {e}"))?;
    if certs.is_empty() {
        return Err(format!("servicenow.ca_file: {shown} holds no certificate"));
    }
    reqwest::Client::builder()
        .tls_certs_merge(certs.clone())
        .build()
        .map_err(|e| format!("servicenow.ca_file: {shown} is refused by TLS: {e}"))?;
    Ok(certs)
}

impl Client {
    /// Builds the client: TLS with the system roots plus `ca_file`, the proxy from the standard
    /// environment variables (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`), the timeouts, the limits
    /// and the credentials of the configured auth mode. Nothing is sent yet.
    /// `oauth_password_bootstrap` needs a store: [`Client::with_token_store`].
    pub fn new(config: &ServiceNowConfig) -> Result<Self, ServiceNowError> {
        Self::build(config, None)
    }

    /// [`Client::new`] keeping the refresh token of `oauth_password_bootstrap` in `store`; other
    /// modes leave it unused.
    pub fn with_token_store(
        config: &ServiceNowConfig,
        store: Arc<dyn TokenStore>,
    ) -> Result<Self, ServiceNowError> {
        Self::build(config, Some(store))
    }

    fn build(
        config: &ServiceNowConfig,
        store: Option<Arc<dyn TokenStore>>,
    ) -> Result<Self, ServiceNowError> {
        let base = config.instance_url.clone();
        let loopback = match base.host() {
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        };
        match base.scheme() {
            "https" => {}
            "http" if loopback || config.allow_insecure_http => {}
            other => {
                return Err(ServiceNowError::Setup(format!(
                    "servicenow.instance_url: scheme `{other}` is not allowed (https, or http to loopback or with allow_insecure_http)"
                )));
            }
        }
        let mut builder = reqwest::Client::builder()
            // A redirect means a login portal or a hibernation page, never the API; and token
            // requests must not follow redirects at all.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .user_agent(concat!("snowsync/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = &config.ca_file {
            let certs = ca_certificates(path).map_err(ServiceNowError::Setup)?;
            builder = builder.tls_certs_merge(certs);
        }
        let http = builder
            .build()
            .map_err(|e| ServiceNowError::Setup(e.to_string()))?;

        let auth = build_auth(config, store)?;
        let transport = Transport {
            http,
            base,
            timeout: config.request_timeout,
            flow: Flow::new(config.max_concurrency, config.requests_per_second),
            auth,
        };
        let username = match config.auth {
            AuthMode::Basic | AuthMode::OauthPassword | AuthMode::OauthPasswordBootstrap => {
                config.username.clone()
            }
            // The instance decides: the entity's application user, or the user the JWT
            // provider maps the subject to.
            AuthMode::OauthClientCredentials | AuthMode::OauthJwtBearer => None,
        };
        let principal = principal(config);
        Ok(Self {
            inner: Arc::new(Inner {
                transport,
                mode: config.auth,
                username,
                principal,
                references: reference::Cache::default(),
                string_lengths: lengths::Cache::default(),
                labels: tags::Cache::default(),
                batch_support: batch::Support::default(),
            }),
            fence: None,
        })
    }

    /// This client (sharing its token, limits, pause and caches) with `fence` consulted right
    /// before each write request is sent; a write the fence refuses fails unsent with
    /// [`ServiceNowError::Fenced`]. Reads are not fenced.
    pub fn fenced(&self, fence: Fence) -> Self {
        Self {
            inner: self.inner.clone(),
            fence: Some(fence),
        }
    }

    /// The user the client writes as (basic and password grant), so the poller can skip the
    /// changes it made itself. `None` with client credentials, where the instance decides.
    pub fn integration_user(&self) -> Option<&str> {
        self.inner.username.as_deref()
    }

    /// How the client signs in: the auth mode and whom it names, never a secret.
    pub fn principal(&self) -> &str {
        &self.inner.principal
    }

    /// The configured auth mode.
    pub fn auth_mode(&self) -> AuthMode {
        self.inner.mode
    }

    /// In `oauth_password_bootstrap` mode, whether the client signs in with the stored refresh
    /// token or the password (after a request: how it did), read from the database without
    /// sending anything; an error saying what to configure when it can do neither. `None` in
    /// other modes.
    pub async fn sign_in(&self) -> Result<Option<SignIn>, ServiceNowError> {
        self.inner.transport.auth.sign_in().await
    }

    /// The instance URL, normalised with a trailing `/`.
    pub fn instance_url(&self) -> &url::Url {
        &self.inner.transport.base
    }

    /// The address of a record in the instance's user interface (`wire::record_link`).
    pub fn record_link(&self, table: &str, sys_id: &str) -> Option<String> {
        wire::record_link(self.instance_url(), table, sys_id)
    }

    fn transport(&self) -> transport::Exchange<'_> {
        transport::Exchange {
            transport: &self.inner.transport,
            fence: self.fence.as_deref(),
        }
    }
}

fn principal(config: &ServiceNowConfig) -> String {
    let user = config.username.as_deref().unwrap_or("no user");
    match (config.auth, &config.jwt) {
        (AuthMode::Basic, _) => format!("basic auth as {user}"),
        (AuthMode::OauthPassword, _) => format!("OAuth password grant as {user}"),
        (AuthMode::OauthPasswordBootstrap, _) => format!("OAuth password bootstrap as {user}"),
        (AuthMode::OauthClientCredentials, _) => "OAuth client credentials".to_owned(),
        (AuthMode::OauthJwtBearer, Some(jwt)) => format!(
            "OAuth JWT bearer grant for subject {}, key id {}, {}",
            jwt.subject,
            jwt.key_id,
            jwt.algorithm.as_str()
        ),
        (AuthMode::OauthJwtBearer, None) => "OAuth JWT bearer grant without a key".to_owned(),
    }
}

fn build_auth(
    config: &ServiceNowConfig,
    store: Option<Arc<dyn TokenStore>>,
) -> Result<Auth, ServiceNowError> {
    let missing = |key: &str| {
        ServiceNowError::Setup(format!(
            "servicenow.{key} is required when servicenow.auth = {}",
            config.auth
        ))
    };
    let username = || config.username.clone().ok_or_else(|| missing("username"));
    let password = || -> Result<SecretString, ServiceNowError> {
        config.password.clone().ok_or_else(|| missing("password"))
    };
    let token_url = || {
        config
            .instance_url
            .join(auth::TOKEN_PATH)
            .map_err(|e| ServiceNowError::Setup(format!("servicenow.instance_url: {e}")))
    };
    match config.auth {
        AuthMode::Basic => Ok(Auth::basic(username()?, password()?)),
        AuthMode::OauthPassword
        | AuthMode::OauthPasswordBootstrap
        | AuthMode::OauthClientCredentials
        | AuthMode::OauthJwtBearer => {
            let client_id = config
                .client_id
                .clone()
                .ok_or_else(|| missing("client_id"))?;
            let secret = config
                .client_secret
                .as_ref()
                .ok_or_else(|| missing("client_secret"))?;
            let grant = match config.auth {
                AuthMode::OauthPassword => Grant::Direct(DirectGrant::Password {
                    username: username()?,
                    password: password()?,
                }),
                AuthMode::OauthPasswordBootstrap => {
                    let settings = config
                        .bootstrap
                        .as_ref()
                        .ok_or_else(|| missing("token_encryption_key"))?;
                    let store = store.ok_or_else(|| {
                        ServiceNowError::Setup(
                            "servicenow.auth = oauth_password_bootstrap keeps its refresh token in the database, and this client was given none".to_owned(),
                        )
                    })?;
                    let key =
                        TokenKey::from_base64(&settings.token_encryption_key).map_err(|m| {
                            ServiceNowError::Setup(format!("servicenow.token_encryption_key: {m}"))
                        })?;
                    let id = CredentialKey {
                        instance_url: config.instance_url.to_string(),
                        client_id: client_id.clone(),
                    };
                    Grant::Bootstrap(Box::new(Vault::new(
                        store,
                        key,
                        id,
                        username()?,
                        config.password.clone(),
                        settings.refresh_token_lifespan,
                    )))
                }
                AuthMode::OauthJwtBearer => {
                    let jwt = config.jwt.as_ref().ok_or_else(|| missing("jwt_key_file"))?;
                    Grant::Direct(DirectGrant::JwtBearer {
                        signer: JwtSigner::new(jwt.algorithm, &jwt.key_id, &jwt.key)
                            .map(Box::new)
                            .map_err(|m| {
                                ServiceNowError::Setup(format!("servicenow.jwt_key_file: {m}"))
                            })?,
                        subject: jwt.subject.clone(),
                        client_secret: secret.clone(),
                    })
                }
                _ => Grant::Direct(DirectGrant::ClientCredentials),
            };
            Ok(Auth::oauth(token_url()?, client_id, secret, grant))
        }
    }
}

#[cfg(test)]
mod tests {
    /// Workers spawn these futures, so each must be `Send`; this fails to compile otherwise.
    #[allow(dead_code, clippy::let_underscore_future)]
    fn every_client_future_is_send(
        c: &super::Client,
        m: &serde_json::Map<String, serde_json::Value>,
    ) {
        fn send<T: Send>(_: T) {}
        send(c.create("incident", m, &["number"]));
        send(c.patch("incident", "a", m, &[]));
        send(c.get("incident", "a", &[]));
        send(c.query("incident", "", &[], 10));
        send(c.find_by_correlation_id("incident", "x", &[]));
        send(c.changed_since("incident", None, &[]));
        send(c.approvals_changed_since(None, &[]));
        send(c.journal_entries("sysapproval_approver", &[], super::Journal::Comments));
        send(c.resolve_reference(super::ReferenceKind::Group, "x"));
        send(c.add_tag("incident", "a", "x"));
        send(c.fields("incident"));
        send(c.choices("incident", "state"));
        send(c.batch(Vec::new()));
        send(super::report::check_with(c));
    }
}
