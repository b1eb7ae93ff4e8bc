//! Secrets never leave the process: a canary password, OAuth client secret, API key, HMAC
//! secret, push secret and webhook token are configured, then every way snowsync speaks
//! is exercised (configuration errors, `check`, `serve` with text logs at trace level and
//! JSON logs at debug level, the API's answers, `/metrics`, the OpenAPI document, the admin
//! endpoints, every page of the console after signing in with the admin key, a push hint
//! and a signed notification to the webhook), and every byte it printed or answered is
//! searched for each canary.

mod servicenow_support;
mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;
use snowsync::sim::{Account, SimConfig, SimHandle};
use support::receiver::Receiver;

const PASSWORD: &str = "canaryPW7f3a9c1e";
const CLIENT_SECRET: &str = "canaryCS2b8e1d4f";
const API_KEY: &str = "canaryAK5d1f0e9a7c3b";
const HMAC_SECRET: &str = "canaryHM9c4a2f6b";
const PUSH_SECRET: &str = "canaryPS6e0b3d8a";
const WEBHOOK_TOKEN: &str = "canaryWT1a7c5e2d";
const ADMIN_KEY: &str = "canaryAD3f8b2c6e1d";
/// A secret that reads as a number, the case that used to be echoed.
const NUMERIC_PASSWORD: &str = "918273645546372819";

const CANARIES: [&str; 8] = [
    PASSWORD,
    ADMIN_KEY,
    CLIENT_SECRET,
    API_KEY,
    HMAC_SECRET,
    PUSH_SECRET,
    WEBHOOK_TOKEN,
    NUMERIC_PASSWORD,
];

/// Everything snowsync said during the test, labelled by where it came from.
#[derive(Default)]
struct Transcript(Vec<(String, String)>);

impl Transcript {
    fn add(&mut self, label: impl Into<String>, text: impl Into<String>) {
        self.0.push((label.into(), text.into()));
    }

    fn output(&mut self, label: &str, output: &Output) {
        self.add(
            format!("{label} stdout"),
            String::from_utf8_lossy(&output.stdout),
        );
        self.add(
            format!("{label} stderr"),
            String::from_utf8_lossy(&output.stderr),
        );
    }

    fn assert_no_canary(&self) {
        for (label, text) in &self.0 {
            for canary in CANARIES {
                assert!(
                    !text.contains(canary),
                    "{label} shows the canary {canary}:\n{text}"
                );
            }
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

struct Setup {
    dir: tempfile::TempDir,
    sim: SimHandle,
    receiver: Receiver,
}

impl Setup {
    async fn start() -> Self {
        let sim_config = SimConfig {
            integration: Account::new("snowsync.integration", PASSWORD, "Integration"),
            oauth_client_secret: CLIENT_SECRET.to_owned().into(),
            ..SimConfig::default()
        };
        let sim = snowsync::sim::spawn(sim_config).await.expect("emulator");
        Self {
            dir: tempfile::tempdir().expect("dir"),
            sim,
            receiver: Receiver::start(0).await,
        }
    }

    /// A configuration file using every canary, listening on `port`.
    fn config(&self, port: u16) -> PathBuf {
        let (client_id, _) = self.sim.oauth_client();
        let text = format!(
            "[servicenow]\ninstance_url = \"{url}\"\nauth = \"oauth_password\"\n\
             client_id = \"{client_id}\"\nclient_secret = \"{CLIENT_SECRET}\"\n\
             username = \"snowsync.integration\"\npassword = \"{PASSWORD}\"\n\
             request_timeout = \"5s\"\n\
             [database]\nurl = \"sqlite://{db}?mode=rwc\"\n\
             [http]\nlisten = \"127.0.0.1:{port}\"\napi_keys = [\"{API_KEY}\"]\n\
             [admin]\napi_keys = [\"{ADMIN_KEY}\"]\n\
             [outbox]\nidle_poll = \"50ms\"\ninitial = \"100ms\"\nmax = \"1s\"\n\
             [poller]\nenabled = true\ninterval = \"1h\"\npush_secret = \"{PUSH_SECRET}\"\n\
             [mapping]\nrules_dir = \"{rules}\"\ntemplates_dir = \"{templates}\"\n\
             [sources.oort]\nwebhook_url = \"{hook}?token={WEBHOOK_TOKEN}\"\n\
             hmac_secret = \"{HMAC_SECRET}\"\n",
            url = self.sim.base_url(),
            db = self.dir.path().join("snowsync.db").display(),
            rules = support::harness::repo_path("mappings").display(),
            templates = support::harness::repo_path("templates").display(),
            hook = self.receiver.url,
        );
        let path = self.dir.path().join(format!("snowsync-{port}.toml"));
        std::fs::write(&path, text).expect("config");
        path
    }
}

fn snowsync(config: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_snowsync"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("RUST_LOG")
        .envs(env.iter().copied())
        .output()
        .expect("run snowsync")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_appears_in_errors_check_logs_metrics_or_answers() {
    let setup = Setup::start().await;
    let mut transcript = Transcript::default();

    config_errors(&setup, &mut transcript);

    let config = setup.config(free_port());
    let check = snowsync(&config, &["check"], &[]);
    assert!(
        check.status.success(),
        "check passes against the emulator:\n{}",
        String::from_utf8_lossy(&check.stdout)
    );
    assert!(
        String::from_utf8_lossy(&check.stdout).contains("token=REDACTED"),
        "the webhook is shown with its token redacted"
    );
    transcript.output("check", &check);

    // A bare level reaches snowsync's own targets only; the dependencies that carry requests
    // and answers are named so their trace and debug output is searched too.
    for (format, level) in [
        (
            "text",
            "trace,reqwest=trace,hyper=trace,h2=trace,sqlx=trace,sea_orm=trace,oauth2=trace",
        ),
        (
            "json",
            "debug,reqwest=debug,hyper=debug,sqlx=debug,sea_orm=debug,oauth2=debug",
        ),
    ] {
        serve_session(&setup, format, level, &mut transcript).await;
    }
    assert!(
        !setup.receiver.received().is_empty(),
        "notifications were sent, so the HMAC secret and the webhook token were used"
    );
    transcript.assert_no_canary();
}

/// Each way a secret used to be echoed by a configuration error.
fn config_errors(setup: &Setup, transcript: &mut Transcript) {
    let config = setup.config(free_port());
    let bare_key = snowsync(
        &config,
        &["check", "--offline"],
        &[("SNOWSYNC_HTTP__API_KEYS", API_KEY)],
    );
    assert!(!bare_key.status.success());
    transcript.output("api key without brackets", &bare_key);

    let numeric = setup.dir.path().join("numeric.toml");
    std::fs::write(
        &numeric,
        format!("[servicenow]\nusername = \"u\"\npassword = {NUMERIC_PASSWORD}\n"),
    )
    .expect("config");
    let numeric = snowsync(&numeric, &["check", "--offline"], &[]);
    assert!(!numeric.status.success());
    transcript.output("numeric password", &numeric);

    let unquoted = setup.dir.path().join("unquoted.toml");
    std::fs::write(
        &unquoted,
        format!("[servicenow]\nusername = \"u\"\npassword = {PASSWORD}\n"),
    )
    .expect("config");
    let unquoted = snowsync(&unquoted, &["check", "--offline"], &[]);
    assert!(!unquoted.status.success());
    transcript.output("unquoted password", &unquoted);

    let in_url = setup.dir.path().join("in-url.toml");
    std::fs::write(
        &in_url,
        format!(
            "[servicenow]\ninstance_url = \"https://admin:{PASSWORD}@acme.service-now.com\"\nusername = \"u\"\npassword = \"p\"\n"
        ),
    )
    .expect("config");
    let in_url = snowsync(&in_url, &["check", "--offline"], &[]);
    assert!(!in_url.status.success());
    transcript.output("password in the instance URL", &in_url);

    let short_key = snowsync(
        &config,
        &["check", "--offline"],
        &[("SNOWSYNC_HTTP__API_KEYS", "[\"canaryAK\"]")],
    );
    transcript.output("short api key", &short_key);
}

/// `serve` with logs in `format` at `level`, driven through a finding, its ticket, a help-desk
/// resolution, a push hint and the notification that follows; then stopped.
async fn serve_session(setup: &Setup, format: &str, level: &str, transcript: &mut Transcript) {
    let port = free_port();
    let config = setup.config(port);
    let log = setup.dir.path().join(format!("serve-{format}.log"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_snowsync"))
        .arg("--config")
        .arg(&config)
        .args(["--log-format", format, "--log-level", level, "serve"])
        .env_remove("RUST_LOG")
        .stdout(std::fs::File::create(log.with_extension("out")).expect("stdout file"))
        .stderr(std::fs::File::create(&log).expect("log file"))
        .stdin(Stdio::null())
        .spawn()
        .expect("serve");
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let answers = drive(&http, &base, setup).await;
    stop(&mut child);
    for (label, text) in answers {
        transcript.add(format!("{format} serve: {label}"), text);
    }
    let written = std::fs::read_to_string(&log).expect("log");
    // The logs searched are the verbose ones asked for, not an empty file.
    match format {
        "text" => assert!(written.contains("TRACE"), "trace lines are written"),
        _ => assert!(
            written
                .lines()
                .filter(|l| !l.trim().is_empty())
                .all(|l| serde_json::from_str::<Value>(l).is_ok()),
            "JSON lines are written"
        ),
    }
    transcript.add(format!("{format} serve log"), written);
    transcript.add(
        format!("{format} serve stdout"),
        std::fs::read_to_string(log.with_extension("out")).expect("stdout"),
    );
}

fn stop(child: &mut Child) {
    // Invariant: the child is ours; SIGKILL leaves what it wrote in the files.
    let _ = child.kill();
    let _ = child.wait();
}

/// Polls `condition` until it holds, failing after a generous deadline.
async fn eventually<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !condition().await {
        assert!(tokio::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn drive(http: &reqwest::Client, base: &str, setup: &Setup) -> Vec<(String, String)> {
    let mut answers = Vec::new();
    eventually("serve answers /healthz", || async {
        http.get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    })
    .await;
    let finding = support::harness::finding("inactive-users", "ana.souza@simubiz.com");
    let accepted = http
        .post(format!("{base}/v1/findings"))
        .header("x-api-client-token", API_KEY)
        .json(&finding)
        .send()
        .await
        .expect("post");
    assert_eq!(accepted.status(), 202);
    let accepted: Value = accepted.json().await.expect("json");
    let id = accepted["finding_ids"][0].as_i64().expect("id");
    answers.push(("202".to_owned(), accepted.to_string()));

    let shown = |http: reqwest::Client| async move {
        http.get(format!("{base}/v1/findings/{id}"))
            .bearer_auth(API_KEY)
            .send()
            .await
            .expect("show")
            .json::<Value>()
            .await
            .expect("json")
    };
    eventually("the finding gets its ticket and its tags", || {
        let http = http.clone();
        async move {
            let detail = shown(http).await;
            let rows = detail["outbox"].as_array().cloned().unwrap_or_default();
            detail["ticket"]["sys_id"].is_string()
                && !rows.is_empty()
                && rows.iter().all(|r| r["status"] == "done")
        }
    })
    .await;
    let detail = shown(http.clone()).await;
    let sys_id = detail["ticket"]["sys_id"]
        .as_str()
        .expect("sys_id")
        .to_owned();

    setup.sim.advance_clock(Duration::from_secs(1)).await;
    servicenow_support::help_desk(&setup.sim)
        .patch(
            "incident",
            &sys_id,
            &servicenow_support::fields(&[
                ("state", "6"),
                ("close_code", "Solution provided"),
                ("close_notes", "Done"),
            ]),
            &[],
        )
        .await
        .expect("resolve as the help desk");
    let before = setup.receiver.received().len();
    let body = format!(r#"{{"table":"incident","sys_id":"{sys_id}"}}"#);
    let timestamp = chrono::Utc::now().timestamp();
    let hint = http
        .post(format!("{base}/v1/servicenow/events"))
        .header("content-type", "application/json")
        .header("x-snowsync-timestamp", timestamp.to_string())
        .header(
            "x-snowsync-signature",
            snowsync::outbox::notify::signature(PUSH_SECRET.as_bytes(), timestamp, body.as_bytes()),
        )
        .body(body)
        .send()
        .await
        .expect("hint");
    assert_eq!(hint.status(), 202);
    answers.push(("hint".to_owned(), hint.text().await.expect("text")));
    eventually("the source is notified of the resolution", || async {
        setup.receiver.received().len() > before
    })
    .await;
    let notification = setup.receiver.received().pop().expect("a notification");
    assert!(
        notification.verifies(HMAC_SECRET),
        "signed with the HMAC secret"
    );

    for (label, path, key) in [
        ("detail", format!("/v1/findings/{id}"), Some(API_KEY)),
        ("list", "/v1/findings".to_owned(), Some(API_KEY)),
        (
            "401",
            "/v1/findings".to_owned(),
            Some("canaryAK-wrong-key-000"),
        ),
        (
            "outbox",
            "/v1/outbox?status=all".to_owned(),
            Some(ADMIN_KEY),
        ),
        ("mappings", "/v1/mappings".to_owned(), Some(ADMIN_KEY)),
        ("openapi", "/openapi.json".to_owned(), None),
        ("metrics", "/metrics".to_owned(), None),
        ("readyz", "/readyz".to_owned(), None),
        ("healthz", "/healthz".to_owned(), None),
    ] {
        let mut request = http.get(format!("{base}{path}"));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        let response = request.send().await.expect(label);
        let headers = format!("{:?}", response.headers());
        answers.push((format!("{label} headers"), headers));
        answers.push((label.to_owned(), response.text().await.expect("text")));
    }
    answers.extend(console_pages(base, id).await);
    answers
}

/// Every page of the console, signed in with the admin key through the sign-in form.
async fn console_pages(base: &str, finding: i64) -> Vec<(String, String)> {
    let mut console = support::console::Console::new(base);
    let signed_in = console.sign_in(ADMIN_KEY).await;
    assert_eq!(signed_in.status(), 303, "signed in");
    let mut pages = vec![(
        "sign-in headers".to_owned(),
        format!("{:?}", signed_in.headers()),
    )];
    for path in [
        "/ui".to_owned(),
        "/ui/findings".to_owned(),
        format!("/ui/findings/{finding}"),
        "/ui/outbox?status=all".to_owned(),
        "/ui/outbox/1".to_owned(),
        "/ui/mappings".to_owned(),
    ] {
        let (status, page) = console.get(&path).await;
        assert_eq!(status, 200, "{path}");
        pages.push((path, page));
    }
    pages
}
