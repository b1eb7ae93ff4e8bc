//! The running service: store, mappings, ServiceNow client, outbox workers and HTTP API,
//! started together and stopped together. `serve`, `demo` and the tests all start it here.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::api::{self, ApiKeys, AppState};
use crate::config::Config;
use crate::intake::Intake;
use crate::outbox::WorkerPool;
use crate::outbox::deliver::ServiceNowDeliverer;
use crate::outbox::notify::Notifier;
use crate::poller::Poller;
use crate::servicenow::Client;
use crate::{pipeline, redact, store};

/// A started service. Dropping it does not stop it: call [`Running::stop`].
pub struct Running {
    pub addr: SocketAddr,
    pub db: DatabaseConnection,
    pub intake: Intake,
    pub client: Client,
    shutdown: CancellationToken,
    server: JoinHandle<std::io::Result<()>>,
    workers: WorkerPool,
    poller: Option<JoinHandle<()>>,
}

/// Opens the store (migrating it), loads mappings and templates, and starts the outbox
/// workers and the HTTP API on `listener`. Stops when `shutdown` is cancelled.
pub async fn start(
    config: &Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<Running> {
    let db = store::open(&config.database)
        .await
        .with_context(|| format!("opening the database {}", redact::url(&config.database.url)))?;
    let pipeline = pipeline::load(&config.mapping)?;
    let client = Client::with_token_store(
        &config.servicenow,
        store::credentials::token_store(db.clone()),
    )
    .context("setting up the ServiceNow client")?;
    // Without a stored refresh token or a password the service could deliver nothing: stop
    // here, saying which key to set, rather than start and fail every delivery.
    if let Some(sign_in) = client
        .sign_in()
        .await
        .context("signing in to ServiceNow (servicenow.auth = oauth_password_bootstrap)")?
    {
        tracing::info!(%sign_in, "ServiceNow sign-in");
    }
    let notifier = Notifier::new(config.sources.clone(), config.servicenow.request_timeout)
        .context("setting up the source notifier")?;
    let wake = Arc::new(Notify::new());
    for shadowed in pipeline.mappings.shadowed() {
        tracing::warn!(problem = %shadowed, "mapping rule never reached");
    }
    tracing::info!(
        sources = %pipeline::describe_sources(&config.mapping),
        "mappings and templates loaded"
    );
    let intake = Intake::new(db.clone(), pipeline.into(), wake.clone());

    let instance = format!(
        "{}-{}",
        std::process::id(),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let deliverer = Arc::new(ServiceNowDeliverer::new(
        db.clone(),
        client.clone(),
        notifier,
        config.outbox.batch_size,
        intake.pipeline.clone(),
    ));
    let workers = WorkerPool::start(
        db.clone(),
        &instance,
        config.outbox.clone(),
        deliverer,
        wake.clone(),
        shutdown.child_token(),
    );
    let (poller, hints) = if config.poller.enabled {
        let poller = Poller {
            db: db.clone(),
            client: client.clone(),
            pipeline: intake.pipeline.clone(),
            config: config.poller.clone(),
            holder: instance.clone(),
            outbox_wake: wake,
        };
        let (task, hints) = poller.start(shutdown.child_token());
        (Some(task), Some(hints))
    } else {
        (None, None)
    };

    if config.http.api_keys.is_empty() {
        tracing::warn!("http.api_keys is empty: the ingest API refuses every request");
    }
    if config.admin.api_keys.is_empty() {
        tracing::warn!(
            "admin.api_keys is empty: the console and the outbox and mapping endpoints let nobody in"
        );
    }
    let state = AppState {
        intake: intake.clone(),
        keys: ApiKeys::new(config.http.api_keys.clone(), config.admin.api_keys.clone()),
        servicenow: client.clone(),
        hints,
        push_secret: config.poller.push_secret.clone(),
        poller_interval: config.poller.enabled.then_some(config.poller.interval),
        sessions: crate::ui::Sessions::new(config.admin.session_ttl),
    };
    let addr = listener
        .local_addr()
        .context("reading the listener address")?;
    let server = tokio::spawn(crate::server::run(
        listener,
        api::router(state),
        shutdown.clone(),
    ));
    crate::metrics::handle();
    tracing::info!(%addr, console = %format!("http://{addr}/ui"), instance, workers = config.outbox.workers, poller = config.poller.enabled, "snowsync started");
    Ok(Running {
        addr,
        db,
        intake,
        client,
        shutdown,
        server,
        workers,
        poller,
    })
}

impl Running {
    /// The base URL of the HTTP API.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting requests and claiming rows, lets in-flight deliveries finish, and waits.
    pub async fn stop(self) {
        self.shutdown.cancel();
        if let Ok(Err(e)) = self.server.await {
            tracing::warn!(error = %e, "HTTP server stopped with an error");
        }
        self.workers.join().await;
        if let Some(poller) = self.poller {
            let _ = poller.await;
        }
    }

    /// Cancelled when the service stops; tasks started beside it (reload) watch it.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Waits until `shutdown` is cancelled from outside, then stops.
    pub async fn wait(self) {
        self.shutdown.cancelled().await;
        self.stop().await;
    }
}
