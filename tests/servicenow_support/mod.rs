//! Test support for the ServiceNow client tests: a small HTTP server on 127.0.0.1 port 0 that
//! records what it is sent and answers from a closure, the recorded responses, and configs.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Response};
use secrecy::SecretString;
use serde_json::{Map, Value};
use snowsync::config::{AuthMode, ServiceNowConfig};
use snowsync::servicenow::Client;
use snowsync::sim::{SimConfig, SimHandle};

/// A request as the test server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: HashMap<String, String>,
    pub headers: HeaderMap,
    pub body: String,
}

pub enum Answer {
    Now(Response<Body>),
    /// Never answer, so the client's request timeout fires.
    Hang,
}

pub type Responder = Arc<dyn Fn(&Seen) -> Answer + Send + Sync>;

pub struct Server {
    pub base: url::Url,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    pub async fn start(responder: impl Fn(&Seen) -> Answer + Send + Sync + 'static) -> Self {
        let responder: Responder = Arc::new(responder);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
            let (responder, log) = (responder.clone(), log.clone());
            async move {
                let (parts, body) = req.into_parts();
                let bytes = axum::body::to_bytes(body, 1 << 24).await.unwrap();
                let query = parts
                    .uri
                    .query()
                    .map(|q| {
                        url::form_urlencoded::parse(q.as_bytes())
                            .into_owned()
                            .collect()
                    })
                    .unwrap_or_default();
                let seen = Seen {
                    method: parts.method.to_string(),
                    path: parts.uri.path().to_owned(),
                    query,
                    headers: parts.headers,
                    body: String::from_utf8_lossy(&bytes).into_owned(),
                };
                log.lock().unwrap().push(seen.clone());
                match responder(&seen) {
                    Answer::Now(r) => r,
                    Answer::Hang => std::future::pending().await,
                }
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            base: url::Url::parse(&format!("http://{addr}/")).unwrap(),
            seen,
        }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

pub fn config(base: &url::Url, auth: AuthMode) -> ServiceNowConfig {
    ServiceNowConfig {
        instance_url: base.clone(),
        auth,
        client_id: Some("snowsync".into()),
        client_secret: Some(SecretString::from("snowsync-secret")),
        username: Some("snowsync.integration".into()),
        password: Some(SecretString::from("snowsync")),
        jwt: None,
        bootstrap: None,
        connect_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(10),
        max_concurrency: 8,
        requests_per_second: 1000.0,
        ca_file: None,
        allow_insecure_http: false,
    }
}

/// One recorded exchange: status, headers (hop-by-hop and encoding left out, as the body is
/// stored decoded), and the JSON body.
pub struct Recorded {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

pub fn recorded(name: &str) -> Recorded {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "..",
        "shared",
        "servicenow-recorded",
        name,
    ]
    .iter()
    .collect();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let all: Value = serde_json::from_str(&text).unwrap();
    let ex = &all[0];
    let skip = [
        "content-encoding",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "content-length",
    ];
    let headers = ex["response_headers"]
        .as_object()
        .map(|h| {
            h.iter()
                .filter(|(k, _)| !skip.contains(&k.to_ascii_lowercase().as_str()))
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                .collect()
        })
        .unwrap_or_default();
    Recorded {
        status: ex["status_code"].as_u64().unwrap() as u16,
        headers,
        body: ex["json_body"].clone(),
    }
}

pub fn respond(status: u16, headers: &[(String, String)], body: impl Into<Body>) -> Answer {
    let mut r = Response::builder().status(status);
    let mut has_type = false;
    for (k, v) in headers {
        has_type |= k.eq_ignore_ascii_case("content-type");
        r = r.header(
            HeaderName::try_from(k.as_str()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    if !has_type {
        r = r.header("content-type", "application/json;charset=UTF-8");
    }
    Answer::Now(r.body(body.into()).unwrap())
}

pub fn replay(rec: &Recorded) -> Answer {
    respond(rec.status, &rec.headers, rec.body.to_string())
}

pub fn json_answer(status: u16, body: Value) -> Answer {
    respond(status, &[], body.to_string())
}

/// The client's configuration for a running emulator in `auth` mode, with its default accounts.
pub fn sim_config(sim: &snowsync::sim::SimHandle, auth: AuthMode) -> ServiceNowConfig {
    let (user, password) = sim.integration_credentials();
    let (client_id, secret) = sim.oauth_client();
    ServiceNowConfig {
        client_id: Some(client_id),
        client_secret: Some(SecretString::from(secret)),
        username: Some(user),
        password: Some(SecretString::from(password)),
        ..config(&sim.base_url(), auth)
    }
}

/// A client signed in with basic auth as the emulator's seeded help-desk user (`help.desk`,
/// password `help.desk`, unless the emulator was started with others). Its writes go through
/// the Table API like a person's: `sys_updated_by` is `help.desk`, the business rules run, and
/// approving an approval rolls up into the request.
pub fn help_desk(sim: &snowsync::sim::SimHandle) -> snowsync::servicenow::Client {
    let (user, password) = sim.help_desk_credentials();
    let config = ServiceNowConfig {
        username: Some(user),
        password: Some(SecretString::from(password)),
        ..config(&sim.base_url(), AuthMode::Basic)
    };
    snowsync::servicenow::Client::new(&config).expect("a help-desk client")
}

/// A running emulator with its default seed, and a basic-auth client for it.
pub async fn start_sim() -> (SimHandle, Client) {
    start_sim_with(SimConfig::default()).await
}

/// A running emulator configured by `config`, and a basic-auth client for it.
pub async fn start_sim_with(config: SimConfig) -> (SimHandle, Client) {
    let sim = snowsync::sim::spawn(config)
        .await
        .expect("start the emulator");
    let client = Client::new(&sim_config(&sim, AuthMode::Basic)).unwrap();
    (sim, client)
}

/// A record's fields from `(name, value)` pairs, every value a string as ServiceNow sends it.
pub fn fields(pairs: &[(&str, &str)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
        .collect()
}

/// Token requests the emulator has received.
pub async fn token_requests(sim: &snowsync::sim::SimHandle) -> u64 {
    sim.stats().await.requests_to("POST", "/oauth_token.do")
}

/// Answers the emulator gave with `status`.
pub async fn answers(sim: &snowsync::sim::SimHandle, status: u16) -> u64 {
    sim.stats()
        .await
        .responses
        .get(&status.to_string())
        .copied()
        .unwrap_or(0)
}

/// Log output captured from the current thread (use a current-thread runtime), at every
/// level, leaving out the emulator's own events.
pub struct Logs {
    buffer: Arc<Mutex<Vec<u8>>>,
    _guard: tracing::subscriber::DefaultGuard,
}

impl Logs {
    pub fn capture() -> Self {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "trace,snowsync::sim=off",
            ))
            .with_writer(move || Writer(sink.clone()))
            .with_ansi(false)
            .finish();
        Self {
            buffer,
            _guard: tracing::subscriber::set_default(subscriber),
        }
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.buffer.lock().unwrap()).into_owned()
    }
}

struct Writer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Writer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
