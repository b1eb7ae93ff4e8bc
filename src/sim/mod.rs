//! A stateful, strict ServiceNow emulator (`snowsync sim`, or in-process from tests): Table API,
//! OAuth, Batch API, business rules, fault injection and an audit of duplicate tickets.
//! It behaves as `shared/servicenow-api.md` documents a real instance, not as a client expects;
//! it never calls out to anything.

mod auth;
mod batch;
pub mod cli;
mod clock;
mod control;
mod db;
mod error;
mod faults;
mod http;
mod net;
mod query;
mod render;
mod rules;
mod schema;
mod seed;
mod stats;
mod table_api;
mod write;

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use url::Url;

pub use faults::{AfterCommit, Burst, Fault, FaultRule, Faults, RateLimit};
pub use stats::{SimStats, TableStats};

/// A sign-in account of the emulated instance, with its sys_user row.
#[derive(Debug, Clone)]
pub struct Account {
    pub user_name: String,
    pub password: SecretString,
    /// The sys_user display name (journal entries and display values show it).
    pub name: String,
    /// The sys_user time zone; fixed-offset zones only (`UTC`, `Etc/GMT+7`).
    pub time_zone: String,
}

impl Account {
    /// An account whose password is the given text.
    pub fn new(user_name: &str, password: &str, name: &str) -> Self {
        Self {
            user_name: user_name.to_owned(),
            password: SecretString::from(password.to_owned()),
            name: name.to_owned(),
            // The recorded instance's user sat at UTC-7: display values are not UTC.
            time_zone: "Etc/GMT+7".to_owned(),
        }
    }
}

/// The instance's JWT provider for the OAuth client: its verifier map entry (a public key
/// under a `kid`) and the sys_user field the subject claim is matched against.
#[derive(Debug, Clone)]
pub struct JwtProvider {
    pub key_id: String,
    /// The verifier's public key (or certificate), PEM: RSA or EC.
    pub public_key_pem: String,
    pub user_field: JwtUserField,
    /// Each `jti` is accepted once (the instance's default).
    pub jti_verification: bool,
}

/// The sys_user field a JWT's `sub` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum JwtUserField {
    UserName,
    Email,
}

impl JwtUserField {
    pub fn column(self) -> &'static str {
        match self {
            Self::UserName => "user_name",
            Self::Email => "email",
        }
    }
}

/// Everything the emulator is started with.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub listen: SocketAddr,
    /// The instance URL used in links and `Location`; by default the request's Host.
    pub public_url: Option<Url>,
    /// The account snowsync signs in with.
    pub integration: Account,
    /// A person working tickets; also the approver of new requests.
    pub help_desk: Account,
    pub oauth_client_id: String,
    pub oauth_client_secret: SecretString,
    /// The client_credentials grant (off by default on real instances, on here).
    pub client_credentials_enabled: bool,
    /// The JWT bearer grant, when a JWT provider with a verifier is configured.
    pub jwt_provider: Option<JwtProvider>,
    /// Access token lifetime in seconds, as `expires_in` reports it.
    pub expires_in: u64,
    pub refresh_token_lifespan: Duration,
    /// Faults in force from the start.
    pub faults: Faults,
    /// `glide.invalid_query.returns_no_rows`.
    pub invalid_query_returns_no_rows: bool,
    /// Refuse label_entry writes with 403, as instances that reserve them for `maint` do.
    pub deny_label_entry_writes: bool,
    /// The most rows one request returns (also the page size when `sysparm_limit` is absent).
    pub max_rows: usize,
    /// The Security Incident Response plugin (com.snc.security_incident): without it the
    /// instance has no `sn_si_incident` table, and the Table API refuses it as it refuses
    /// any table it does not know.
    pub security_incident_response: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            public_url: None,
            integration: Account::new(
                cli::DEFAULT_INTEGRATION_USER,
                cli::DEFAULT_INTEGRATION_PASSWORD,
                "SnowSync Integration",
            ),
            help_desk: Account::new(
                cli::DEFAULT_HELP_DESK_USER,
                cli::DEFAULT_HELP_DESK_PASSWORD,
                "Help Desk",
            ),
            oauth_client_id: cli::DEFAULT_CLIENT_ID.to_owned(),
            oauth_client_secret: SecretString::from(cli::DEFAULT_CLIENT_SECRET.to_owned()),
            client_credentials_enabled: true,
            jwt_provider: None,
            expires_in: 1799,
            refresh_token_lifespan: Duration::from_secs(8_640_000),
            faults: Faults::none(),
            invalid_query_returns_no_rows: false,
            deny_label_entry_writes: false,
            // Open question 5: the platform cap is reported as 10,000 rows.
            max_rows: 10_000,
            security_incident_response: true,
        }
    }
}

/// The shared state of one running emulator.
pub(crate) struct Sim {
    pub config: SimConfig,
    pub passwords: HashMap<String, SecretString>,
    pub schema: Arc<schema::Schema>,
    db: RwLock<db::Db>,
    pub clock: clock::Clock,
    pub tokens: auth::TokenStore,
    pub faults: faults::FaultEngine,
    pub stats: stats::Counters,
    pub shutdown: CancellationToken,
    /// `http://127.0.0.1:PORT/`.
    pub bound: Url,
    /// sys_id of the user who approves new requests.
    pub approver: String,
}

impl Sim {
    fn new(config: SimConfig, bound: Url, shutdown: CancellationToken) -> Self {
        let clock = clock::Clock::default();
        let schema = Arc::new(schema::Schema::standard(config.security_incident_response));
        let mut db = db::Db::new(schema.clone());
        let seeded = seed::seed(&mut db, &config, &clock.now_text());
        let passwords = [&config.integration, &config.help_desk]
            .iter()
            .map(|a| (a.user_name.clone(), a.password.clone()))
            .collect();
        let faults = faults::FaultEngine::new(config.faults.clone(), clock.now());
        Self {
            passwords,
            schema,
            db: RwLock::new(db),
            tokens: auth::TokenStore::default(),
            faults,
            stats: stats::Counters::default(),
            shutdown,
            bound,
            approver: seeded.help_desk,
            clock,
            config,
        }
    }

    pub(crate) fn read_db(&self) -> RwLockReadGuard<'_, db::Db> {
        self.db.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn write_db(&self) -> RwLockWriteGuard<'_, db::Db> {
        self.db.write().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn set_faults(&self, faults: Faults) {
        if self.faults.set(faults, self.clock.now()) {
            self.tokens.revoke_all();
        }
    }
}

async fn bind(config: &SimConfig) -> std::io::Result<(net::SimListener, Url)> {
    let listener = net::SimListener::new(TcpListener::bind(config.listen).await?);
    let mut addr = listener.addr()?;
    if addr.ip().is_unspecified() {
        addr.set_ip(Ipv4Addr::LOCALHOST.into());
    }
    let bound = Url::parse(&format!("http://{addr}/"))
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    Ok((listener, bound))
}

async fn serve(listener: net::SimListener, sim: Arc<Sim>) -> std::io::Result<()> {
    let stop = sim.shutdown.clone();
    let app = http::router(sim).into_make_service_with_connect_info::<net::ConnInfo>();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await
}

/// A running emulator; dropping it stops the server.
pub struct SimHandle {
    sim: Arc<Sim>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl SimHandle {
    /// Where the emulator listens, e.g. `http://127.0.0.1:PORT/` (with the trailing slash).
    /// Links in records use `SimConfig::public_url` instead when it is set.
    pub fn base_url(&self) -> Url {
        self.sim.bound.clone()
    }

    /// What `GET /sim/stats` returns.
    pub async fn stats(&self) -> SimStats {
        stats::snapshot(&self.sim)
    }

    /// Replaces the faults in force, as `POST /sim/faults` does.
    pub async fn set_faults(&self, faults: Faults) {
        self.sim.set_faults(faults);
    }

    /// Every issued access and refresh token becomes invalid.
    pub async fn revoke_tokens(&self) {
        self.sim.tokens.revoke_all();
    }

    /// The refresh tokens the instance would still honour (its `oauth_credential` table), so a
    /// test can look for them where they must not be.
    pub async fn refresh_tokens(&self) -> Vec<String> {
        self.sim.tokens.refresh_tokens(self.sim.clock.unix())
    }

    /// Moves the emulated clock forward: tokens expire, dates and rate-limit windows move.
    pub async fn advance_clock(&self, by: Duration) {
        self.sim.clock.advance(by);
    }

    /// Stops the emulated clock at the current whole second; from then on only
    /// [`SimHandle::advance_clock`] moves it, so writes land in the seconds a test chooses.
    pub async fn pause_clock(&self) {
        self.sim.clock.pause();
    }

    /// The emulated current time (what `sys_updated_on` of a write made now would say).
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.sim.clock.now()
    }

    /// (user, password) of the integration account.
    pub fn integration_credentials(&self) -> (String, String) {
        let a = &self.sim.config.integration;
        (a.user_name.clone(), a.password.expose_secret().to_owned())
    }

    /// (user, password) of the help-desk account, for changing tickets as a person would.
    pub fn help_desk_credentials(&self) -> (String, String) {
        let a = &self.sim.config.help_desk;
        (a.user_name.clone(), a.password.expose_secret().to_owned())
    }

    /// (client id, client secret) of the OAuth application.
    pub fn oauth_client(&self) -> (String, String) {
        let c = &self.sim.config;
        (
            c.oauth_client_id.clone(),
            c.oauth_client_secret.expose_secret().to_owned(),
        )
    }

    /// Stops serving, answering hung requests by closing them, and waits for the server.
    pub async fn shutdown(mut self) {
        self.sim.shutdown.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.sim.shutdown.cancel();
    }
}

/// Binds `config.listen` and serves in the background.
pub async fn spawn(config: SimConfig) -> std::io::Result<SimHandle> {
    let (listener, bound) = bind(&config).await?;
    let sim = Arc::new(Sim::new(config, bound, CancellationToken::new()));
    let task = tokio::spawn(serve(listener, sim.clone()));
    Ok(SimHandle {
        sim,
        task: Some(task),
    })
}

/// Binds `config.listen` and serves until `shutdown` is cancelled.
pub async fn run(config: SimConfig, shutdown: CancellationToken) -> std::io::Result<()> {
    let (listener, bound) = bind(&config).await?;
    let sim = Arc::new(Sim::new(config, bound.clone(), shutdown));
    tracing::info!(url = %bound, "ServiceNow emulator listening");
    serve(listener, sim).await
}
