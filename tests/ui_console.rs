//! The console over plain HTTP: it asks for sign-in, takes only an admin key, keeps the
//! session in an HttpOnly SameSite=Strict cookie, and refuses every POST without the
//! session's CSRF token, changing nothing. The whole service runs against the emulator.

mod support;

use snowsync::store::outbox::{self, RowStatus};
use support::app::{ADMIN_KEY, API_KEY, TestApp};
use support::console::{Console, session_cookie};
use support::harness::finding;

/// The id of the one dead row of a finding whose create the emulator refused.
async fn dead_row(app: &TestApp) -> i64 {
    let finding = app.dead_create("ana.souza@simubiz.com").await;
    outbox::list(&app.running.db, Some(RowStatus::Dead), 1)
        .await
        .expect("rows")
        .into_iter()
        .find(|r| r.finding_id == finding)
        .expect("the dead row")
        .id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_asks_for_sign_in_first() {
    let app = TestApp::spawn(support::Engine::Sqlite).await;
    let mut console = Console::new(&app.running.url());
    for path in [
        "/ui",
        "/ui/findings",
        "/ui/findings/1",
        "/ui/outbox",
        "/ui/outbox/1",
        "/ui/outbox/1/retry",
        "/ui/mappings",
    ] {
        let response = console
            .http
            .get(app.url(path))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 303, "{path}");
        assert_eq!(response.headers()["location"], "/ui/login", "{path}");
    }
    let (status, page) = console.get("/ui/login").await;
    assert_eq!(status, 200);
    assert!(page.contains("Admin API key"), "{page}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_an_admin_key_signs_in_and_the_cookie_is_http_only_and_strict() {
    let app = TestApp::spawn(support::Engine::Sqlite).await;
    for key in [API_KEY, "not-a-key-at-all-0000", ""] {
        let mut console = Console::new(&app.running.url());
        let refused = console.sign_in(key).await;
        assert_eq!(refused.status(), 401, "{key:?}");
        let (status, _) = console.get("/ui").await;
        assert_eq!(status, 303, "{key:?} signed nobody in");
    }
    let mut console = Console::new(&app.running.url());
    let signed_in = console.sign_in(ADMIN_KEY).await;
    assert_eq!(signed_in.status(), 303);
    assert_eq!(signed_in.headers()["location"], "/ui");
    let (_, header) = session_cookie(&signed_in).expect("a session cookie");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/ui"] {
        assert!(header.contains(flag), "{flag} in {header}");
    }
    let (status, page) = console.get("/ui").await;
    assert_eq!(status, 200);
    assert!(page.contains("Overview"), "{page}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_without_the_forms_csrf_token_is_refused() {
    let app = TestApp::spawn(support::Engine::Sqlite).await;
    let mut console = Console::new(&app.running.url());
    console.get("/ui/login").await;
    let forged = console
        .post("/ui/login", &[("csrf", "forged"), ("key", ADMIN_KEY)])
        .await;
    assert_eq!(forged.status(), 403);
    let (status, _) = console.get("/ui").await;
    assert_eq!(status, 303, "not signed in");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_ends_the_session() {
    let app = TestApp::spawn(support::Engine::Sqlite).await;
    let mut console = Console::new(&app.running.url());
    console.sign_in(ADMIN_KEY).await;
    let (_, _) = console.get("/ui").await;
    let kept = console.cookie.clone();
    let csrf = console.csrf.clone().expect("the sign-out form's token");
    let out = console.post("/ui/logout", &[("csrf", &csrf)]).await;
    assert_eq!(out.status(), 303);
    console.cookie = kept;
    let (status, _) = console.get("/ui").await;
    assert_eq!(status, 303, "the old cookie no longer opens the console");
    app.stop().await;
}

on_both_engines!(
    a_retry_without_the_sessions_csrf_token_is_refused_and_changes_nothing,
    |test_db| {
        let app = TestApp::spawn(test_db.engine).await;
        let dead = dead_row(&app).await;
        let mut console = Console::new(&app.running.url());
        console.sign_in(ADMIN_KEY).await;
        for token in ["", "forged"] {
            let refused = console
                .post(&format!("/ui/outbox/{dead}/retry"), &[("csrf", token)])
                .await;
            assert_eq!(refused.status(), 403, "{token:?}");
            let refused = console
                .post("/ui/outbox/retry-dead", &[("csrf", token)])
                .await;
            assert_eq!(refused.status(), 403, "{token:?}");
        }
        let row = outbox::get(&app.running.db, dead)
            .await
            .expect("get")
            .expect("row");
        assert_eq!(row.status, RowStatus::Dead, "nothing changed");

        let (status, page) = console.get(&format!("/ui/outbox/{dead}/retry")).await;
        assert_eq!(status, 200);
        assert!(page.contains("403"), "the confirmation says why: {page}");
        let csrf = console.csrf.clone().expect("the confirmation's token");
        let done = console
            .post(&format!("/ui/outbox/{dead}/retry"), &[("csrf", &csrf)])
            .await;
        assert_eq!(done.status(), 200);
        assert!(done.text().await.expect("page").contains("pending again"));
        app.settled().await;
        let row = outbox::get(&app.running.db, dead)
            .await
            .expect("get")
            .expect("row");
        assert_eq!(row.status, RowStatus::Done);
        app.stop().await;
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mapping_tester_shows_the_plan_or_names_what_is_wrong() {
    let app = TestApp::spawn(support::Engine::Sqlite).await;
    let mut console = Console::new(&app.running.url());
    console.sign_in(ADMIN_KEY).await;
    let (_, page) = console.get("/ui/mappings").await;
    assert!(page.contains(".toml:"), "rules with file and line: {page}");
    let csrf = console.csrf.clone().expect("the tester's token");
    let document = finding("inactive-users", "ana.souza@simubiz.com").to_string();
    let tested = console
        .post(
            "/ui/mappings",
            &[
                ("csrf", &csrf),
                ("document", &document),
                ("format", "auto"),
                ("event", "failing"),
            ],
        )
        .await;
    assert_eq!(tested.status(), 200);
    let page = tested.text().await.expect("page");
    assert!(page.contains("tested-rule"), "{page}");
    assert!(page.contains("short_description"), "{page}");

    let refused = console
        .post(
            "/ui/mappings",
            &[
                ("csrf", &csrf),
                ("document", r#"{"source": "oort"}"#),
                ("format", "generic"),
                ("event", "failing"),
            ],
        )
        .await;
    let page = refused.text().await.expect("page");
    assert!(page.contains("tester-error"), "{page}");
    assert!(page.contains("title"), "names the missing field: {page}");
    app.stop().await;
}
