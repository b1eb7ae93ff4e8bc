//! The operator's console in a real browser: headless Chromium driven over WebDriver
//! (chromedriver), against the whole service and the emulator holding the demo's findings
//! and one dead row. Signs in, sees the tickets, opens a finding, retries the dead row and
//! sees it delivered, and uses the mapping tester; a screenshot of each page is kept in
//! `<target>/ui-screens/`, and an error in the browser's console fails the test.
//!
//! Chromium and chromedriver come from Debian's packages (`chromium`, `chromium-driver`),
//! which `.ci/run` installs. Without them the test skips, unless `CI` is set.

mod support;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use snowsync::store::outbox::{self, RowStatus};
use support::app::{ADMIN_KEY, API_KEY, TestApp};
use support::tools;

const KARSCH: &str = include_str!("../src/cli/demo/karsch_ip_threat.json");
const OORT_EVENT: &str = include_str!("../src/cli/demo/oort_inactive_users.json");
const APPROVAL: &str = include_str!("../src/cli/demo/approval_request.json");

/// chromedriver on a free loopback port, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_driver(chromedriver: &PathBuf) -> Driver {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new(chromedriver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let ready = http
            .get(format!("{url}/status"))
            .send()
            .await
            .ok()
            .filter(|r| r.status().is_success());
        if let Some(response) = ready {
            let status: Value = response.json().await.unwrap_or_default();
            if status["value"]["ready"] == true {
                break;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "chromedriver did not become ready"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Driver { child, url }
}

/// chromedriver's browser log: what the page's console printed since the last read.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (axum::http::Method, Option<String>) {
        (
            axum::http::Method::POST,
            Some(json!({"type": "browser"}).to_string()),
        )
    }
}

/// The browser and where its screenshots go.
struct Browser {
    client: Client,
    screens: PathBuf,
    shot: usize,
}

impl Browser {
    /// The errors the page's console reported since the last read.
    async fn console_errors(&self) -> Vec<Value> {
        let log = self
            .client
            .issue_cmd(BrowserLog)
            .await
            .expect("read the browser log");
        log.as_array()
            .map(|entries| {
                entries
                    .iter()
                    .filter(|e| e["level"] == "SEVERE")
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Fails on any error the page's console reported since the last read.
    async fn no_console_errors(&self, page: &str) {
        let errors = self.console_errors().await;
        assert!(
            errors.is_empty(),
            "{page}: errors in the browser console: {errors:?}"
        );
    }

    /// Saves a screenshot named `name`, then checks the console.
    async fn screenshot(&mut self, name: &str) {
        self.shot += 1;
        let png = self.client.screenshot().await.expect("screenshot");
        let path = self.screens.join(format!("{:02}-{name}.png", self.shot));
        std::fs::write(&path, png).expect("write the screenshot");
        self.no_console_errors(name).await;
    }

    async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigate");
    }

    /// The element `css` names, once the page shows it: a click that navigates returns
    /// before the next page is there, so every read waits for what it reads.
    async fn element(&self, css: &str) -> fantoccini::elements::Element {
        match self
            .client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css(css))
            .await
        {
            Ok(element) => element,
            Err(e) => {
                let url = self.client.current_url().await.map(|u| u.to_string());
                let page = self.client.source().await.unwrap_or_default();
                panic!("{css} not shown ({e}) on {url:?}:\n{page}");
            }
        }
    }

    async fn text(&self, css: &str) -> String {
        self.element(css).await.text().await.expect("text")
    }

    async fn click(&self, css: &str) {
        self.element(css).await.click().await.expect("click");
    }

    /// Clicks `css`, a link, and waits until the browser is at a path starting `path`.
    async fn follow(&self, css: &str, path: &str) {
        self.click(css).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let at = self.client.current_url().await.expect("url");
            if at.path().starts_with(path) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{css} did not lead to {path}: at {at}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The demo's findings, delivered, and one more whose create the emulator refused with 403:
/// the dead row's id.
async fn demo_data(app: &TestApp) -> i64 {
    for (path, body) in [
        ("/v1/findings", KARSCH),
        ("/v1/sources/oort/events", OORT_EVENT),
        ("/v1/approval-requests", APPROVAL),
    ] {
        let (status, answer) = app.post_json(path, API_KEY, body).await;
        assert_eq!(status, 202, "{path}: {answer}");
    }
    app.settled().await;
    app.dead_create("lena.vogel@simubiz.com").await;
    let dead = outbox::list(&app.running.db, Some(RowStatus::Dead), 10)
        .await
        .expect("dead rows");
    assert_eq!(dead.len(), 1, "one dead row: {dead:?}");
    dead[0].id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_operator_signs_in_finds_the_dead_row_retries_it_and_tests_a_mapping() {
    let install = "install Debian's `chromium` and `chromium-driver` (.ci/run does)";
    let Some(chromedriver) = tools::required(
        tools::locate(&[PathBuf::from("chromedriver")]),
        "chromedriver",
        install,
    ) else {
        return;
    };
    let Some(chromium) = tools::required(
        tools::locate(&[PathBuf::from("chromium"), PathBuf::from("chromium-browser")]),
        "chromium",
        install,
    ) else {
        return;
    };

    let app = TestApp::spawn(support::Engine::Sqlite).await;
    let dead_id = demo_data(&app).await;
    let driver = start_driver(&chromedriver).await;
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("browserName".into(), json!("chrome"));
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1400,1000"],
        }),
    );
    capabilities.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
    // chromedriver is spoken to over plain HTTP on loopback; the client's TLS stack still
    // wants a provider chosen, and the tree has two.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = ClientBuilder::rustls()
        .expect("a WebDriver client")
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .expect("a browser session");
    let screens = tools::target_dir().join("ui-screens");
    std::fs::create_dir_all(&screens).expect("the screenshot folder");
    let mut b = Browser {
        client,
        screens,
        shot: 0,
    };

    // Signing in: the console sends a stranger to the form; a wrong key is refused.
    b.goto(&app.url("/ui")).await;
    assert!(
        b.client
            .current_url()
            .await
            .expect("url")
            .path()
            .ends_with("/ui/login"),
        "the console asks for sign-in first"
    );
    b.screenshot("sign-in").await;
    b.element("#key")
        .await
        .send_keys(API_KEY)
        .await
        .expect("type");
    b.click("#sign-in").await;
    assert!(
        b.text("p.error").await.contains("not an admin key"),
        "an ingest key does not sign in"
    );
    // The refused sign-in is a 401, which the console reports; nothing else may be there.
    let errors = b.console_errors().await;
    assert!(
        errors.len() == 1
            && errors[0]["message"]
                .as_str()
                .is_some_and(|m| m.contains("/ui/login") && m.contains("401")),
        "only the refused sign-in: {errors:?}"
    );
    b.element("#key")
        .await
        .send_keys(ADMIN_KEY)
        .await
        .expect("type");
    b.click("#sign-in").await;

    // The overview warns of the dead row.
    assert!(
        b.text("#dead-warning")
            .await
            .contains("1 outbox row(s) are dead")
    );
    b.screenshot("overview").await;

    // The demo's tickets, and one finding's page with its ticket.
    b.follow("header nav a[href='/ui/findings']", "/ui/findings")
        .await;
    b.element("#findings a.ticket").await;
    let tickets = b
        .client
        .find_all(Locator::Css("#findings a.ticket"))
        .await
        .expect("ticket links");
    assert!(tickets.len() >= 5, "the demo's tickets: {}", tickets.len());
    for ticket in &tickets {
        let number = ticket.text().await.expect("number");
        assert!(
            number.starts_with("INC") || number.starts_with("REQ"),
            "{number}"
        );
    }
    b.screenshot("findings").await;
    b.follow("#findings tr:nth-child(3) td a", "/ui/findings/")
        .await;
    let ticket = b.text("#ticket").await;
    assert!(ticket.contains("INC") || ticket.contains("REQ"), "{ticket}");
    b.screenshot("finding").await;

    // The dead row, why it is dead, and its retry behind a confirmation.
    b.follow("header nav a[href='/ui/outbox']", "/ui/outbox")
        .await;
    let reason = b.text(&format!("#row-{dead_id} td.last-error")).await;
    assert!(reason.contains("403"), "the reason is shown: {reason}");
    b.screenshot("outbox-dead").await;
    b.follow(
        &format!("#row-{dead_id} a.retry"),
        &format!("/ui/outbox/{dead_id}/retry"),
    )
    .await;
    b.screenshot("retry-confirmation").await;
    b.click("#confirm").await;
    assert!(
        b.text("#outcomes li.revived")
            .await
            .contains("pending again")
    );
    b.screenshot("retried").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while outbox::get(&app.running.db, dead_id)
        .await
        .expect("row")
        .expect("the row exists")
        .status
        != RowStatus::Done
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the retried row was not delivered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    b.goto(&app.url(&format!("/ui/outbox/{dead_id}"))).await;
    assert!(b.text("#row").await.contains("done"));
    b.screenshot("delivered").await;

    // The mapping tester: a finding pasted, its rule, profile and fields shown.
    b.follow("header nav a[href='/ui/mappings']", "/ui/mappings")
        .await;
    b.element("#document")
        .await
        .send_keys(KARSCH)
        .await
        .expect("type the finding");
    b.click("#render").await;
    assert!(b.text("#tested-rule").await.contains(".toml:"));
    assert!(b.text("#tested-profile").await.contains(".toml:"));
    assert!(b.text("table.fields").await.contains("short_description"));
    b.screenshot("mapping-tester").await;

    b.client.close().await.expect("close the browser");
    drop(driver);
    app.stop().await;
}
