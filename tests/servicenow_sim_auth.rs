//! Authentication against the emulator over HTTP: each auth mode, the token cache, refresh
//! before expiry, renewal after expiry and revocation, clear failures, and secrets that never
//! reach logs or errors.

mod servicenow_support;

use std::time::Duration;

use secrecy::SecretString;
use servicenow_support::{Logs, answers, sim_config, token_requests};
use snowsync::config::AuthMode;
use snowsync::servicenow::report::{self, Level};
use snowsync::servicenow::{Client, Disposition, ServiceNowError};
use snowsync::sim::{self, Account, SimConfig, SimHandle};

const MODES: [AuthMode; 3] = [
    AuthMode::Basic,
    AuthMode::OauthPassword,
    AuthMode::OauthClientCredentials,
];

async fn start(config: SimConfig) -> SimHandle {
    sim::spawn(config).await.expect("start the emulator")
}

fn incident(short: &str) -> serde_json::Map<String, serde_json::Value> {
    let mut m = serde_json::Map::new();
    m.insert("short_description".into(), short.into());
    m
}

#[tokio::test]
async fn each_auth_mode_writes_and_reads_an_incident() {
    let sim = start(SimConfig::default()).await;
    for mode in MODES {
        let client = Client::new(&sim_config(&sim, mode)).unwrap();
        let created = client
            .create(
                "incident",
                &incident(&format!("{mode:?}")),
                &["number", "sys_mod_count"],
            )
            .await
            .unwrap_or_else(|e| panic!("{mode:?}: {e}"));
        let sys_id = created.sys_id().unwrap();
        assert!(created.number().unwrap().starts_with("INC"));
        let read = client
            .get("incident", sys_id, &["short_description"])
            .await
            .unwrap();
        assert_eq!(
            read.unwrap().str("short_description"),
            Some(format!("{mode:?}").as_str())
        );
    }
    assert_eq!(answers(&sim, 401).await, 0);
}

#[tokio::test]
async fn check_reports_every_line_ok_in_each_auth_mode() {
    let sim = start(SimConfig::default()).await;
    for mode in MODES {
        let lines = report::check(&sim_config(&sim, mode)).await;
        let text: Vec<String> = lines.iter().map(ToString::to_string).collect();
        assert!(
            lines.iter().all(|l| l.level == Level::Ok),
            "{mode:?}: {text:#?}"
        );
        assert!(text[0].contains("authentication"), "{text:#?}");
        assert!(text.iter().any(|l| l.contains("read access to incident")));
        assert!(text.iter().any(|l| l.contains("read access to sc_request")));
        assert!(text.iter().any(|l| l.contains("tags can be written")));
    }
}

#[tokio::test]
async fn check_fails_with_a_clear_line_when_the_password_is_wrong() {
    let sim = start(SimConfig::default()).await;
    for mode in [AuthMode::Basic, AuthMode::OauthPassword] {
        let mut config = sim_config(&sim, mode);
        config.password = Some(SecretString::from("wrong-password"));
        let lines = report::check(&config).await;
        assert_eq!(lines.len(), 1, "{mode:?}: nothing else is tried: {lines:?}");
        let line = lines[0].to_string();
        assert_eq!(lines[0].level, Level::Fail);
        assert!(line.starts_with("FAIL wrong credentials"), "{line}");
        assert!(line.contains("401"), "{line}");
        assert!(!line.contains("wrong-password"), "{line}");
    }
}

#[tokio::test]
async fn check_warns_when_the_instance_refuses_label_entry_writes() {
    let sim = start(SimConfig {
        deny_label_entry_writes: true,
        ..SimConfig::default()
    })
    .await;
    let lines = report::check(&sim_config(&sim, AuthMode::Basic)).await;
    let tags = lines
        .iter()
        .find(|l| l.text.starts_with("tags"))
        .expect("a tags line");
    assert_eq!(tags.level, Level::Warn, "{lines:?}");
    assert!(tags.text.contains("403"), "{tags}");
    assert!(lines.iter().all(|l| l.level != Level::Fail), "{lines:?}");
}

#[tokio::test]
async fn concurrent_first_requests_share_one_token_request() {
    let sim = start(SimConfig::default()).await;
    for mode in [AuthMode::OauthPassword, AuthMode::OauthClientCredentials] {
        let before = token_requests(&sim).await;
        let client = Client::new(&sim_config(&sim, mode)).unwrap();
        let calls: Vec<_> = (0..16)
            .map(|_| {
                let c = client.clone();
                tokio::spawn(
                    async move { c.query("incident", "active=true", &["number"], 5).await },
                )
            })
            .collect();
        for call in calls {
            call.await.unwrap().unwrap();
        }
        assert_eq!(token_requests(&sim).await - before, 1, "{mode:?}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn the_refresh_token_is_used_before_the_access_token_expires() {
    let logs = Logs::capture();
    let sim = start(SimConfig {
        expires_in: 2,
        ..SimConfig::default()
    })
    .await;
    let client = Client::new(&sim_config(&sim, AuthMode::OauthPassword)).unwrap();
    client.query("incident", "", &["number"], 1).await.unwrap();
    assert_eq!(token_requests(&sim).await, 1);
    // Our clock passes the refresh margin (half the 2 s lifetime) while the instance's clock
    // has not reached the expiry: jump tokio's clock, then let it run on from there.
    tokio::time::pause();
    tokio::time::advance(Duration::from_millis(1500)).await;
    tokio::time::resume();
    client.query("incident", "", &["number"], 1).await.unwrap();
    assert_eq!(token_requests(&sim).await, 2, "the token was renewed");
    assert_eq!(answers(&sim, 401).await, 0, "an expired token was sent");
    let text = logs.text();
    assert!(text.contains("grant=\"refresh_token\""), "{text}");
    assert!(!text.contains("refresh token refused"), "{text}");
}

#[tokio::test(flavor = "current_thread")]
async fn an_access_token_expired_on_the_instance_is_refreshed_after_one_401() {
    let logs = Logs::capture();
    let sim = start(SimConfig::default()).await;
    let client = Client::new(&sim_config(&sim, AuthMode::OauthPassword)).unwrap();
    client.query("incident", "", &["number"], 1).await.unwrap();
    // The instance's clock runs ahead of ours: it expires the token while we think it fresh.
    sim.advance_clock(Duration::from_secs(1800)).await;
    client.query("incident", "", &["number"], 1).await.unwrap();
    assert_eq!(answers(&sim, 401).await, 1);
    assert_eq!(token_requests(&sim).await, 2);
    assert!(logs.text().contains("grant=\"refresh_token\""));
}

#[tokio::test(flavor = "current_thread")]
async fn revoked_tokens_lead_to_a_new_password_grant_and_the_request_succeeds() {
    let logs = Logs::capture();
    let sim = start(SimConfig::default()).await;
    let client = Client::new(&sim_config(&sim, AuthMode::OauthPassword)).unwrap();
    client.query("incident", "", &["number"], 1).await.unwrap();
    sim.revoke_tokens().await;
    client.query("incident", "", &["number"], 1).await.unwrap();
    // password, refused refresh, password
    assert_eq!(token_requests(&sim).await, 3);
    let text = logs.text();
    assert!(text.contains("refresh token refused"), "{text}");
    assert_eq!(text.matches("grant=\"password\"").count(), 2, "{text}");
}

#[tokio::test]
async fn revoked_client_credentials_are_renewed_with_a_new_grant() {
    let sim = start(SimConfig::default()).await;
    let client = Client::new(&sim_config(&sim, AuthMode::OauthClientCredentials)).unwrap();
    client.query("incident", "", &["number"], 1).await.unwrap();
    sim.revoke_tokens().await;
    client.query("incident", "", &["number"], 1).await.unwrap();
    assert_eq!(token_requests(&sim).await, 2);
}

#[tokio::test]
async fn a_refused_password_grant_is_an_auth_error_the_outbox_waits_out() {
    let sim = start(SimConfig::default()).await;
    let mut config = sim_config(&sim, AuthMode::OauthPassword);
    config.password = Some(SecretString::from("wrong-password"));
    let client = Client::new(&config).unwrap();
    let err = client.get("incident", "abc", &[]).await.unwrap_err();
    assert!(
        matches!(
            err,
            ServiceNowError::Auth {
                grant: "password",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_auth());
    assert_eq!(err.classify(), Disposition::Outage { after: None });
    assert!(err.to_string().contains("access_denied"), "{err}");
    assert_eq!(token_requests(&sim).await, 1, "one grant, no retry loop");
}

#[tokio::test]
async fn a_wrong_basic_password_is_a_final_401_the_outbox_waits_out() {
    let sim = start(SimConfig::default()).await;
    let mut config = sim_config(&sim, AuthMode::Basic);
    config.password = Some(SecretString::from("wrong-password"));
    let err = Client::new(&config)
        .unwrap()
        .query("incident", "", &[], 10)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(401), "{err}");
    assert!(err.is_auth());
    assert_eq!(err.classify(), Disposition::Outage { after: None });
}

#[tokio::test(flavor = "current_thread")]
async fn a_canary_secret_never_reaches_logs_errors_or_debug_output() {
    const PASSWORD: &str = "canary-pw-7f3a9c";
    const SECRET: &str = "canary-cs-51d2e8";
    let logs = Logs::capture();
    let sim = start(SimConfig {
        integration: Account::new("snowsync.integration", PASSWORD, "SnowSync Integration"),
        oauth_client_secret: SecretString::from(SECRET),
        ..SimConfig::default()
    })
    .await;
    let mut seen = Vec::new();
    for mode in MODES {
        let config = sim_config(&sim, mode);
        let client = Client::new(&config).unwrap();
        client
            .create("incident", &incident("canary"), &["number"])
            .await
            .unwrap();
        sim.revoke_tokens().await;
        client.query("incident", "", &["number"], 1).await.unwrap();
        seen.push(format!("{client:?} {config:?}"));
        seen.extend(report::check(&config).await.iter().map(ToString::to_string));

        let mut wrong = config.clone();
        wrong.password = Some(SecretString::from(format!("{PASSWORD}-wrong")));
        wrong.client_secret = Some(SecretString::from(format!("{SECRET}-wrong")));
        let err = Client::new(&wrong)
            .unwrap()
            .get("incident", "abc", &[])
            .await
            .unwrap_err();
        seen.push(format!("{err} {err:?}"));
        seen.extend(report::check(&wrong).await.iter().map(ToString::to_string));
    }
    seen.push(logs.text());
    let all = seen.join("\n");
    assert!(
        all.contains("obtained ServiceNow access token"),
        "logs were captured"
    );
    assert!(!all.contains("canary-pw"), "the password leaked:\n{all}");
    assert!(
        !all.contains("canary-cs"),
        "the client secret leaked:\n{all}"
    );
}

#[tokio::test]
async fn batch_items_refused_after_a_revocation_mid_batch_are_sent_again_with_a_new_token() {
    let sim = start(SimConfig::default()).await;
    let client = Client::new(&sim_config(&sim, AuthMode::OauthPassword)).unwrap();
    client.query("incident", "", &["number"], 1).await.unwrap();
    // The token dies right after the batch call itself is let in, before its items run.
    sim.set_faults(snowsync::sim::Faults::none().revoking_tokens_after(1))
        .await;
    let item = |n: u32| {
        let mut fields = serde_json::Map::new();
        fields.insert("short_description".into(), format!("batch {n}").into());
        snowsync::servicenow::BatchRequest::create(
            format!("i{n}"),
            "incident",
            &fields,
            &["number"],
        )
        .unwrap()
    };
    let answers = client.batch(vec![item(1), item(2)]).await.unwrap();
    for answer in answers {
        let record = answer.record().unwrap().expect("a created record");
        assert!(record.number().unwrap_or_default().starts_with("INC"));
    }
    assert!(token_requests(&sim).await >= 2, "the token was renewed");
}
