//! Basic auth, the OAuth token endpoint, token expiry and revocation.

use std::time::Duration;

use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};
use snowsync::sim::{Faults, SimConfig};

use crate::support::{As, TestSim, body, envelope};

async fn token(sim: &TestSim, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let resp = sim
        .http
        .post(sim.url("oauth_token.do"))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, body(resp).await)
}

async fn password_grant(sim: &TestSim) -> Value {
    let (id, secret) = sim.handle.oauth_client();
    let (user, password) = sim.handle.integration_credentials();
    let (status, body) = token(
        sim,
        &[
            ("grant_type", "password"),
            ("client_id", &id),
            ("client_secret", &secret),
            ("username", &user),
            ("password", &password),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn with_bearer(sim: &TestSim, access: &str) -> StatusCode {
    sim.http
        .get(sim.url("api/now/table/incident?sysparm_limit=1"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn missing_or_wrong_credentials_get_the_recorded_401() {
    let sim = TestSim::start().await;
    let resp = sim
        .request(As::Nobody, Method::GET, "api/now/table/incident")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        resp.headers()[header::WWW_AUTHENTICATE],
        "Basic realm=\"Service-now\""
    );
    let (message, detail) = envelope(&body(resp).await);
    assert_eq!(
        (message.as_str(), detail),
        (
            "User is not authenticated",
            json!("Required to provide Auth information")
        )
    );
    let resp = sim
        .http
        .get(sim.url("api/now/table/incident"))
        .basic_auth("help.desk", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_password_grant_returns_access_and_refresh_tokens_that_work() {
    let sim = TestSim::start().await;
    let t = password_grant(&sim).await;
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["scope"], "useraccount");
    assert_eq!(t["expires_in"], 1799);
    assert_eq!(t["access_token"].as_str().unwrap().len(), 86);
    assert!(t["refresh_token"].is_string());
    assert_eq!(
        with_bearer(&sim, t["access_token"].as_str().unwrap()).await,
        StatusCode::OK
    );
    // While the token is valid, a new password grant hands out the same one.
    assert_eq!(
        password_grant(&sim).await["access_token"],
        t["access_token"]
    );
}

#[tokio::test]
async fn the_refresh_grant_returns_a_new_access_token_only() {
    let sim = TestSim::start().await;
    let t = password_grant(&sim).await;
    let (id, secret) = sim.handle.oauth_client();
    let (status, r) = token(
        &sim,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &id),
            ("client_secret", &secret),
            ("refresh_token", t["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert!(r.get("refresh_token").is_none());
    assert_ne!(r["access_token"], t["access_token"]);
    assert_eq!(
        with_bearer(&sim, r["access_token"].as_str().unwrap()).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn client_credentials_act_as_the_integration_user_without_a_refresh_token() {
    let sim = TestSim::start().await;
    let (id, secret) = sim.handle.oauth_client();
    let (status, t) = token(
        &sim,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &secret),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let mut keys: Vec<&String> = t.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["access_token", "expires_in", "scope", "token_type"]);
    let resp = sim
        .http
        .post(sim.url("api/now/table/incident"))
        .bearer_auth(t["access_token"].as_str().unwrap())
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        body(resp).await["result"]["sys_created_by"],
        "snowsync.integration"
    );
}

#[tokio::test]
async fn token_failures_get_the_access_denied_body() {
    let sim = TestSim::with(SimConfig {
        client_credentials_enabled: false,
        ..SimConfig::default()
    })
    .await;
    let (id, secret) = sim.handle.oauth_client();
    let denied = json!({"error_description": "access_denied", "error": "server_error"});
    let cases: Vec<Vec<(&str, &str)>> = vec![
        vec![
            ("grant_type", "password"),
            ("client_id", &id),
            ("client_secret", "wrong"),
            ("username", "help.desk"),
            ("password", "help.desk"),
        ],
        vec![
            ("grant_type", "password"),
            ("client_id", &id),
            ("client_secret", &secret),
            ("username", "help.desk"),
            ("password", "wrong"),
        ],
        vec![
            ("grant_type", "refresh_token"),
            ("client_id", &id),
            ("client_secret", &secret),
            ("refresh_token", "nope"),
        ],
        vec![
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &secret),
        ],
    ];
    for form in cases {
        assert_eq!(
            token(&sim, &form).await,
            (StatusCode::UNAUTHORIZED, denied.clone()),
            "{form:?}"
        );
    }
    let resp = sim
        .http
        .post(sim.url("oauth_token.do"))
        .json(
            &json!({"grant_type": "client_credentials", "client_id": id, "client_secret": secret}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::UNAUTHORIZED,
        "a JSON body is not read"
    );
}

#[tokio::test]
async fn an_expired_access_token_gets_the_401_envelope() {
    let sim = TestSim::with(SimConfig {
        expires_in: 60,
        ..SimConfig::default()
    })
    .await;
    let t = password_grant(&sim).await;
    assert_eq!(t["expires_in"], 60);
    let access = t["access_token"].as_str().unwrap();
    sim.handle.advance_clock(Duration::from_secs(61)).await;
    assert_eq!(with_bearer(&sim, access).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn revoked_tokens_stop_working_access_and_refresh_alike() {
    let sim = TestSim::start().await;
    let t = password_grant(&sim).await;
    sim.handle.revoke_tokens().await;
    assert_eq!(
        with_bearer(&sim, t["access_token"].as_str().unwrap()).await,
        StatusCode::UNAUTHORIZED
    );
    let (id, secret) = sim.handle.oauth_client();
    let (status, _) = token(
        &sim,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &id),
            ("client_secret", &secret),
            ("refresh_token", t["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let t = password_grant(&sim).await;
    let resp = sim
        .http
        .post(sim.url("sim/faults"))
        .json(&json!({"revoke_tokens": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        with_bearer(&sim, t["access_token"].as_str().unwrap()).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn tokens_are_revoked_after_the_set_number_of_requests() {
    let sim = TestSim::start().await;
    let access = password_grant(&sim).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    sim.handle
        .set_faults(Faults::none().revoking_tokens_after(2))
        .await;
    assert_eq!(with_bearer(&sim, &access).await, StatusCode::OK);
    assert_eq!(with_bearer(&sim, &access).await, StatusCode::OK);
    assert_eq!(with_bearer(&sim, &access).await, StatusCode::UNAUTHORIZED);
    let fresh = password_grant(&sim).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        with_bearer(&sim, &fresh).await,
        StatusCode::OK,
        "revoked once, not for good"
    );
}

#[tokio::test]
async fn a_locked_out_user_cannot_sign_in() {
    let sim = TestSim::start().await;
    let me = sim
        .sys_id_of("sys_user", "user_name=snowsync.integration")
        .await;
    let (status, _) = sim
        .patch(As::HelpDesk, "sys_user", &me, json!({"locked_out": "true"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        sim.get("api/now/table/incident").await.0,
        StatusCode::UNAUTHORIZED
    );
}
