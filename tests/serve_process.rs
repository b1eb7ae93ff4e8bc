//! `snowsync serve` as an SRE runs it, as a process: reloading mappings on SIGHUP (a valid
//! edit in force, a bad one refused with the running set kept), the access log, and one info
//! line per ticket written.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use snowsync::sim::{self, SimConfig, SimHandle};

const API_KEY: &str = "serve-process-key-0123456789";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A `serve` process with its config folder (rules copied from the repository into `rules/`,
/// templates built in), its log file and its port; killed when dropped.
struct Serve {
    dir: tempfile::TempDir,
    child: Child,
    log: PathBuf,
    base: String,
    http: reqwest::Client,
    _sim: SimHandle,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    async fn start() -> Self {
        Self::start_with(None).await
    }

    /// Starts with `extra` written as `rules/05-site.toml` beside the copied rules.
    async fn start_with(extra: Option<&str>) -> Self {
        let sim = sim::spawn(SimConfig::default()).await.expect("emulator");
        let dir = tempfile::tempdir().unwrap();
        let rules = dir.path().join("rules");
        std::fs::create_dir_all(&rules).unwrap();
        for entry in std::fs::read_dir(root().join("mappings")).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, rules.join(path.file_name().unwrap())).unwrap();
        }
        if let Some(text) = extra {
            std::fs::write(rules.join("05-site.toml"), text).unwrap();
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let (user, password) = sim.integration_credentials();
        std::fs::write(
            dir.path().join("snowsync.toml"),
            format!(
                "[servicenow]\ninstance_url = \"{}\"\nusername = \"{user}\"\npassword = \"{password}\"\n\
                 [database]\nurl = \"sqlite://state.db?mode=rwc\"\n\
                 [http]\nlisten = \"127.0.0.1:{port}\"\napi_keys = [\"{API_KEY}\"]\n\
                 [outbox]\nidle_poll = \"20ms\"\n[poller]\nenabled = false\n\
                 [mapping]\nrules_dir = \"rules\"\n[log]\nlevel = \"info\"\n",
                sim.base_url()
            ),
        )
        .unwrap();
        let log = dir.path().join("serve.log");
        let child = Command::new(env!("CARGO_BIN_EXE_snowsync"))
            .args(["--config", "snowsync.toml", "serve"])
            .current_dir(dir.path())
            .env_remove("RUST_LOG")
            .env_remove("SNOWSYNC_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("serve");
        let serve = Self {
            dir,
            child,
            log,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
            _sim: sim,
        };
        serve.log_line("snowsync started").await;
        serve
    }

    fn rules(&self) -> PathBuf {
        self.dir.path().join("rules")
    }

    /// The first log line containing every one of `parts`, waiting for it to be written.
    async fn log_line_with(&self, parts: &[&str]) -> String {
        let started = Instant::now();
        loop {
            let text = std::fs::read_to_string(&self.log).unwrap_or_default();
            if let Some(line) = text.lines().find(|l| parts.iter().all(|p| l.contains(p))) {
                return line.to_owned();
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "no log line with {parts:?} in:\n{text}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn log_line(&self, part: &str) -> String {
        self.log_line_with(&[part]).await
    }

    fn hangup(&self) {
        let status = Command::new("kill")
            .args(["-HUP", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Records the fixture finding; returns the rule the finding was planned with.
    async fn rule_for_a_new_finding(&self) -> String {
        let body = std::fs::read(root().join("tests/fixtures/karsch_generic.json")).unwrap();
        let answer: Value = self
            .http
            .post(format!("{}/v1/findings", self.base))
            .header("x-api-client-token", API_KEY)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = answer["finding_ids"][0]
            .as_i64()
            .unwrap_or_else(|| panic!("a finding id in {answer}"));
        let shown: Value = self
            .http
            .get(format!("{}/v1/findings/{id}", self.base))
            .header("x-api-client-token", API_KEY)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        shown["rule"]
            .as_str()
            .unwrap_or_else(|| panic!("a rule in {shown}"))
            .to_owned()
    }
}

const SITE_RULE: &str = "[[rule]]\nname = \"site-threats\"\nsource = \"oort\"\ncheck_id = \"ip-threat-detected\"\nprofile = \"site\"\n\n[profile.site]\ntable = \"incident\"\nassignment_group = \"Service Desk\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_puts_a_valid_edit_in_force_and_logs_what_changed() {
    let serve = Serve::start().await;
    assert_eq!(
        serve.rule_for_a_new_finding().await,
        "oort-identity-threats"
    );
    std::fs::write(serve.rules().join("05-site.toml"), SITE_RULE).unwrap();
    serve.hangup();
    let line = serve.log_line("mappings and templates reloaded").await;
    assert!(line.contains("rules added: site-threats"), "{line}");
    assert!(line.contains("profiles added: site"), "{line}");
    // A finding of another subject is new, so it is planned with the mappings now in force.
    let body = std::fs::read_to_string(root().join("tests/fixtures/karsch_generic.json"))
        .unwrap()
        .replace("karsch.heuck", "other.user");
    let answer: Value = serve
        .http
        .post(format!("{}/v1/findings", serve.base))
        .header("x-api-client-token", API_KEY)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = answer["finding_ids"][0]
        .as_i64()
        .unwrap_or_else(|| panic!("{answer}"));
    let shown: Value = serve
        .http
        .get(format!("{}/v1/findings/{id}", serve.base))
        .header("x-api-client-token", API_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shown["rule"], "site-threats", "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_refuses_a_bad_edit_says_why_and_keeps_the_running_set() {
    let serve = Serve::start().await;
    std::fs::write(
        serve.rules().join("05-site.toml"),
        SITE_RULE.replace("table = \"incident\"", "table = \"incidnet\""),
    )
    .unwrap();
    serve.hangup();
    let line = serve
        .log_line_with(&["reload refused", "05-site.toml:8", "profile.site.table"])
        .await;
    assert!(line.contains("ERROR"), "{line}");
    assert_eq!(
        serve.rule_for_a_new_finding().await,
        "oort-identity-threats"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_api_request_has_an_access_log_line_naming_the_key_but_never_holding_it() {
    let serve = Serve::start().await;
    serve.rule_for_a_new_finding().await;
    let line = serve
        .log_line_with(&["request", "method=POST", "path=/v1/findings", "status=202"])
        .await;
    assert!(line.contains("key=\"http.api_keys[0]\""), "{line}");
    assert!(line.contains("latency_ms="), "{line}");
    let log = std::fs::read_to_string(&serve.log).unwrap();
    assert!(!log.contains(API_KEY), "the key is in the log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_created_ticket_has_one_info_line_with_number_table_finding_and_attempt() {
    let serve = Serve::start().await;
    serve.rule_for_a_new_finding().await;
    let line = serve.log_line("ticket created").await;
    for part in [
        "INFO",
        "number=\"INC",
        "table=\"incident\"",
        "finding.id=1",
        "attempt=1",
    ] {
        assert!(line.contains(part), "{part} missing in {line}");
    }
    // Finding text (the subject's login) stays out of info lines.
    let log = std::fs::read_to_string(&serve.log).unwrap();
    assert!(!log.contains("karsch.heuck"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_checks_the_mappings_against_the_instance_at_start_and_logs_each_problem() {
    let serve = Serve::start_with(Some(&SITE_RULE.replace("Service Desk", "No Such Group"))).await;
    let problem = serve
        .log_line_with(&["mapping check against the instance", "No Such Group"])
        .await;
    assert!(problem.contains("05-site.toml"), "{problem}");
    let summary = serve
        .log_line("mappings checked against the instance")
        .await;
    assert!(summary.contains("problems=1"), "{summary}");
    // It still serves: the outbox holds work until the mapping is fixed.
    assert_eq!(serve.rule_for_a_new_finding().await, "site-threats");
}
