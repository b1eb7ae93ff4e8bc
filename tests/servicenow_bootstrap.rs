//! `oauth_password_bootstrap` against the emulator over HTTP, with the refresh token stored in
//! real SQLite and PostgreSQL databases: the password signs in once and its refresh token is
//! stored sealed; later clients and service starts need no password; a wrong key, a token
//! copied from another instance and a revoked token without a password are refused with
//! errors that say what to set; renewal before the lifespan ends; what `check` reports; and
//! the configuration's refusals.

mod servicenow_support;
mod support;

use std::time::Duration;

use base64::Engine as _;
use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{DatabaseConnection, EntityTrait};
use secrecy::SecretString;
use servicenow_support::{Logs, sim_config, token_requests};
use snowsync::config::{AuthMode, BootstrapConfig, Config, ServiceNowConfig};
use snowsync::servicenow::report::{self, Level};
use snowsync::servicenow::{Client, SignIn, Why};
use snowsync::sim::{self, Account, SimConfig, SimHandle};
use snowsync::store::credentials;
use snowsync::store::entity::oauth_refresh_token;
use support::TestDb;

/// A fresh `token_encryption_key`: 32 random bytes in base64.
fn new_key() -> String {
    let mut bytes = uuid::Uuid::new_v4().as_bytes().to_vec();
    bytes.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

async fn start_sim() -> SimHandle {
    sim::spawn(SimConfig::default())
        .await
        .expect("start the emulator")
}

/// The client's configuration in bootstrap mode for `sim`, with the password or without.
fn bootstrap_config(sim: &SimHandle, key: &str, with_password: bool) -> ServiceNowConfig {
    let base = sim_config(sim, AuthMode::OauthPasswordBootstrap);
    ServiceNowConfig {
        password: base.password.clone().filter(|_| with_password),
        bootstrap: Some(BootstrapConfig {
            token_encryption_key: SecretString::from(key.to_owned()),
            refresh_token_lifespan: Duration::from_secs(8_640_000),
        }),
        ..base
    }
}

fn client(config: &ServiceNowConfig, db: &DatabaseConnection) -> Client {
    Client::with_token_store(config, credentials::token_store(db.clone())).unwrap()
}

async fn read_incidents(client: &Client) -> Result<(), snowsync::servicenow::ServiceNowError> {
    client.query("incident", "", &["number"], 1).await.map(drop)
}

/// The one stored row.
async fn stored(db: &DatabaseConnection) -> oauth_refresh_token::Model {
    let mut rows = oauth_refresh_token::Entity::find().all(db).await.unwrap();
    assert_eq!(rows.len(), 1, "one stored token");
    rows.remove(0)
}

/// Moves the stored token's issue back by `days`, as if it had been obtained then.
async fn age_stored_token(db: &DatabaseConnection, days: i64) {
    let earlier = stored(db).await.obtained_at - chrono::TimeDelta::days(days);
    oauth_refresh_token::Entity::update_many()
        .col_expr(
            oauth_refresh_token::Column::ObtainedAt,
            Expr::value(earlier),
        )
        .exec(db)
        .await
        .unwrap();
}

/// Signs in once with the password, so the database holds a refresh token.
async fn bootstrap(sim: &SimHandle, key: &str, db: &DatabaseConnection) {
    read_incidents(&client(&bootstrap_config(sim, key, true), db))
        .await
        .expect("the first sign-in with the password");
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

on_both_engines!(
    the_first_start_with_a_password_stores_the_refresh_token_encrypted,
    |test_db| {
        let db = test_db.open().await;
        let sim = start_sim().await;
        let key = new_key();
        let first = client(&bootstrap_config(&sim, &key, true), &db);
        assert_eq!(
            first.sign_in().await.unwrap(),
            Some(SignIn::Password(Why::NothingStored))
        );
        let before = Utc::now();
        read_incidents(&first).await.unwrap();

        let row = stored(&db).await;
        assert_eq!(row.instance_url, sim.base_url().as_str());
        assert_eq!(row.client_id, sim.oauth_client().0);
        assert_eq!(row.username, sim.integration_credentials().0);
        assert!(row.obtained_at >= before - chrono::TimeDelta::seconds(1));
        let issued = sim.refresh_tokens().await;
        assert_eq!(issued.len(), 1, "{issued:?}");
        let token = issued[0].as_bytes();
        assert!(
            !contains(&row.ciphertext, token),
            "the token is stored in clear"
        );
        assert!(!contains(&row.nonce, token));
        assert_eq!(row.nonce.len(), 12, "an AES-GCM nonce");
        assert_eq!(
            row.ciphertext.len(),
            token.len() + 16,
            "the token and its tag"
        );
    }
);

on_both_engines!(
    a_second_client_without_a_password_signs_in_with_the_stored_token,
    |test_db| {
        let db = test_db.open().await;
        let sim = start_sim().await;
        let key = new_key();
        bootstrap(&sim, &key, &db).await;
        let stored_at = stored(&db).await.obtained_at;

        let second = client(&bootstrap_config(&sim, &key, false), &db);
        let created = second
            .create(
                "incident",
                &servicenow_support::fields(&[("short_description", "bootstrap")]),
                &["sys_created_by"],
            )
            .await
            .unwrap();
        assert_eq!(created.str("sys_created_by"), Some("snowsync.integration"));
        match second.sign_in().await.unwrap() {
            Some(SignIn::StoredToken {
                obtained_at,
                renewal_due: false,
                password_set: false,
                ..
            }) => assert_eq!(obtained_at, stored_at),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            token_requests(&sim).await,
            2,
            "a password grant, then a refresh grant"
        );
        assert_eq!(
            stored(&db).await.obtained_at,
            stored_at,
            "nothing new to store"
        );
    }
);

on_both_engines!(
    the_service_starts_without_a_password_once_a_token_is_stored,
    |test_db| {
        let sim = start_sim().await;
        let key = new_key();
        let config = |with_password: bool| {
            let mut config =
                Config::for_emulator(&sim, &test_db.config.url, "k".repeat(16).as_str());
            config.database = test_db.config.clone();
            config.servicenow = bootstrap_config(&sim, &key, with_password);
            config
        };
        let start = |config: Config| async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            snowsync::service::start(
                &config,
                listener,
                tokio_util::sync::CancellationToken::new(),
            )
            .await
        };

        let refused = start(config(false)).await.err().expect("no way to sign in");
        let message = format!("{refused:#}");
        assert!(
            message.contains("no refresh token is stored for"),
            "{message}"
        );
        assert!(message.contains("set servicenow.password"), "{message}");
        assert!(message.contains("first start"), "{message}");

        let first = start(config(true)).await.unwrap();
        read_incidents(&first.client).await.unwrap();
        first.stop().await;

        let second = start(config(false)).await.unwrap();
        assert!(matches!(
            second.client.sign_in().await.unwrap(),
            Some(SignIn::StoredToken { .. })
        ));
        read_incidents(&second.client).await.unwrap();
        second.stop().await;
    }
);

on_both_engines!(
    a_wrong_encryption_key_is_refused_with_a_clear_error,
    |test_db| {
        let db = test_db.open().await;
        let sim = start_sim().await;
        bootstrap(&sim, &new_key(), &db).await;
        let before = token_requests(&sim).await;

        let other_key = client(&bootstrap_config(&sim, &new_key(), false), &db);
        let err = other_key.sign_in().await.unwrap_err().to_string();
        assert!(
            err.contains(
                "servicenow.token_encryption_key does not open the refresh token stored for"
            ),
            "{err}"
        );
        assert!(
            err.contains("configure the key it was stored with"),
            "{err}"
        );
        let err = read_incidents(&other_key).await.unwrap_err();
        assert!(err.is_auth(), "{err}");
        assert!(err.to_string().contains("does not open"), "{err}");
        assert_eq!(token_requests(&sim).await, before, "nothing was sent");
    }
);

/// A row copied from another instance's database does not open: the instance URL is part of
/// what the ciphertext is bound to.
#[tokio::test]
async fn a_token_stored_for_another_instance_is_refused() {
    let test_db = TestDb::sqlite();
    let db = test_db.open().await;
    let (here, elsewhere) = (start_sim().await, start_sim().await);
    let key = new_key();
    bootstrap(&elsewhere, &key, &db).await;
    oauth_refresh_token::Entity::update_many()
        .col_expr(
            oauth_refresh_token::Column::InstanceUrl,
            Expr::value(here.base_url().to_string()),
        )
        .exec(&db)
        .await
        .unwrap();

    let err = read_incidents(&client(&bootstrap_config(&here, &key, false), &db))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("does not open"), "{err}");
    assert_eq!(token_requests(&here).await, 0);
}

#[tokio::test(flavor = "current_thread")]
async fn a_revoked_refresh_token_without_a_password_gives_a_clear_error() {
    let logs = Logs::capture();
    let test_db = TestDb::sqlite();
    let db = test_db.open().await;
    let sim = start_sim().await;
    let key = new_key();
    bootstrap(&sim, &key, &db).await;
    sim.revoke_tokens().await;

    let config = bootstrap_config(&sim, &key, false);
    let err = read_incidents(&client(&config, &db)).await.unwrap_err();
    assert!(err.is_auth(), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("was refused: it expired or was revoked"),
        "{text}"
    );
    assert!(text.contains("set servicenow.password"), "{text}");
    assert!(
        logs.text().contains("the password is needed again"),
        "{}",
        logs.text()
    );

    let lines = report::check_with(&client(&config, &db)).await;
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0].level, Level::Fail);
    assert!(
        lines[0].text.starts_with("wrong credentials"),
        "{}",
        lines[0]
    );
    assert!(
        lines[0].text.contains("set servicenow.password"),
        "{}",
        lines[0]
    );
}

on_both_engines!(
    a_revoked_refresh_token_is_replaced_through_a_configured_password,
    |test_db| {
        let db = test_db.open().await;
        let sim = start_sim().await;
        let key = new_key();
        bootstrap(&sim, &key, &db).await;
        let old = stored(&db).await;
        sim.revoke_tokens().await;

        let renewed = client(&bootstrap_config(&sim, &key, true), &db);
        read_incidents(&renewed).await.unwrap();
        assert_eq!(
            renewed.sign_in().await.unwrap(),
            Some(SignIn::Password(Why::Refused))
        );
        let new = stored(&db).await;
        assert_ne!(new.ciphertext, old.ciphertext);
        assert!(new.obtained_at >= old.obtained_at);
        read_incidents(&client(&bootstrap_config(&sim, &key, false), &db))
            .await
            .expect("the new token works without the password");
    }
);

on_both_engines!(
    the_stored_token_is_renewed_with_the_password_before_its_lifespan_ends,
    |test_db| {
        let db = test_db.open().await;
        let sim = start_sim().await;
        let key = new_key();
        bootstrap(&sim, &key, &db).await;
        age_stored_token(&db, 95).await;
        // The first password grant's access token has expired on the instance, so a new
        // password grant issues a new refresh token instead of answering the same one.
        sim.advance_clock(Duration::from_secs(1800)).await;

        let renewing = client(&bootstrap_config(&sim, &key, true), &db);
        read_incidents(&renewing).await.unwrap();
        assert_eq!(
            renewing.sign_in().await.unwrap(),
            Some(SignIn::Password(Why::Renewal))
        );
        assert!(Utc::now() - stored(&db).await.obtained_at < chrono::TimeDelta::minutes(1));
        assert_eq!(sim.refresh_tokens().await.len(), 2);
    }
);

// Instances sharing a database: one without the password takes up the token another renewed.
on_both_engines!(
    a_token_renewed_by_another_instance_is_taken_up_before_the_old_one_ends,
    |test_db| {
        let db = test_db.open().await;
        let sim = start_sim().await;
        let key = new_key();
        bootstrap(&sim, &key, &db).await;
        age_stored_token(&db, 95).await;
        let without = client(&bootstrap_config(&sim, &key, false), &db);
        read_incidents(&without).await.unwrap();
        assert!(matches!(
            without.sign_in().await.unwrap(),
            Some(SignIn::StoredToken {
                renewal_due: true,
                ..
            })
        ));

        sim.advance_clock(Duration::from_secs(1800)).await;
        read_incidents(&client(&bootstrap_config(&sim, &key, true), &db))
            .await
            .unwrap();
        let renewed_at = stored(&db).await.obtained_at;
        // The first client's access token has expired on the instance: its next request is
        // refused once and renews, now from the newer stored token.
        sim.advance_clock(Duration::from_secs(1800)).await;
        read_incidents(&without).await.unwrap();
        match without.sign_in().await.unwrap() {
            Some(SignIn::StoredToken {
                obtained_at,
                renewal_due: false,
                ..
            }) => assert_eq!(obtained_at, renewed_at),
            other => panic!("{other:?}"),
        }
    }
);

#[tokio::test]
async fn check_warns_while_the_stored_token_nears_its_end_without_a_password() {
    let test_db = TestDb::sqlite();
    let db = test_db.open().await;
    let sim = start_sim().await;
    let key = new_key();
    bootstrap(&sim, &key, &db).await;
    age_stored_token(&db, 95).await;

    let lines = report::check_with(&client(&bootstrap_config(&sim, &key, false), &db)).await;
    let text: Vec<String> = lines.iter().map(ToString::to_string).collect();
    assert!(text[0].starts_with("ok   authentication"), "{text:#?}");
    assert!(text[0].contains("stored refresh token from"), "{text:#?}");
    let warnings: Vec<&String> = text.iter().filter(|l| l.starts_with("warn")).collect();
    assert_eq!(warnings.len(), 1, "{text:#?}");
    assert!(warnings[0].contains("ends about"), "{text:#?}");
    assert!(warnings[0].contains("set servicenow.password"), "{text:#?}");
    assert!(!text.iter().any(|l| l.starts_with("FAIL")), "{text:#?}");
}

#[tokio::test]
async fn check_says_whether_the_password_or_the_stored_token_signed_in() {
    let test_db = TestDb::sqlite();
    let db = test_db.open().await;
    let sim = start_sim().await;
    let key = new_key();
    let first = report::check_with(&client(&bootstrap_config(&sim, &key, true), &db)).await;
    assert!(
        first[0].text.contains(
            "OAuth password bootstrap as snowsync.integration; password bootstrap: no refresh token was stored yet"
        ),
        "{first:#?}"
    );
    let second = report::check_with(&client(&bootstrap_config(&sim, &key, false), &db)).await;
    assert!(
        second[0].text.contains(&format!(
            "OAuth password bootstrap as snowsync.integration; stored refresh token from {}",
            stored(&db).await.obtained_at.format("%Y-%m-%d")
        )),
        "{second:#?}"
    );
    assert!(second.iter().all(|l| l.level == Level::Ok), "{second:#?}");
}

/// The key, the password and the refresh token itself never reach the logs, an error, the
/// `Debug` output of the client or its configuration, or `check`.
#[tokio::test(flavor = "current_thread")]
async fn no_secret_of_the_bootstrap_reaches_logs_errors_debug_or_check() {
    const PASSWORD: &str = "canary-pw-3e9b71";
    let logs = Logs::capture();
    let test_db = TestDb::sqlite();
    let db = test_db.open().await;
    let sim = sim::spawn(SimConfig {
        integration: Account::new("snowsync.integration", PASSWORD, "SnowSync Integration"),
        ..SimConfig::default()
    })
    .await
    .expect("start the emulator");
    let key = new_key();
    let mut seen = Vec::new();
    let with_password = bootstrap_config(&sim, &key, true);
    let first = client(&with_password, &db);
    read_incidents(&first).await.unwrap();
    seen.push(format!("{first:?} {with_password:?}"));
    seen.extend(
        report::check_with(&first)
            .await
            .iter()
            .map(ToString::to_string),
    );
    let tokens = sim.refresh_tokens().await;

    let without = bootstrap_config(&sim, &key, false);
    seen.extend(
        report::check_with(&client(&without, &db))
            .await
            .iter()
            .map(ToString::to_string),
    );
    let wrong_key = bootstrap_config(&sim, &new_key(), false);
    let err = read_incidents(&client(&wrong_key, &db)).await.unwrap_err();
    seen.push(format!("{err} {err:?} {wrong_key:?}"));
    sim.revoke_tokens().await;
    let err = read_incidents(&client(&without, &db)).await.unwrap_err();
    seen.push(format!("{err} {err:?}"));
    seen.push(logs.text());

    let all = seen.join("\n");
    assert!(
        all.contains("stored the refresh token"),
        "logs were captured:\n{all}"
    );
    assert!(!all.contains(&key), "the key leaked:\n{all}");
    assert!(!all.contains(PASSWORD), "the password leaked:\n{all}");
    for token in tokens {
        assert!(!all.contains(&token), "the refresh token leaked:\n{all}");
    }
}

/// The binary, as an admin runs it: `check` with the password stores the token, `check`
/// without it then signs in from the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snowsync_check_stores_the_token_then_runs_without_the_password() {
    let sim = start_sim().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token.key"), format!("{}\n", new_key())).unwrap();
    let (client_id, secret) = sim.oauth_client();
    let (user, password) = sim.integration_credentials();
    let config = dir.path().join("snowsync.toml");
    std::fs::write(
        &config,
        format!(
            r#"[servicenow]
instance_url = "{instance}"
auth = "oauth_password_bootstrap"
client_id = "{client_id}"
client_secret = "{secret}"
username = "{user}"
token_encryption_key_file = "token.key"

[database]
url = "sqlite://{dir}/snowsync.db?mode=rwc"
"#,
            instance = sim.base_url(),
            dir = dir.path().display()
        ),
    )
    .unwrap();
    let run = |args: Vec<&'static str>, password: Option<String>| {
        let config = config.clone();
        tokio::task::spawn_blocking(move || {
            let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_snowsync"));
            command
                .args(args)
                .args(["--config", config.to_str().unwrap()])
                .env_remove("SNOWSYNC_CONFIG")
                .env_remove("SNOWSYNC_SERVICENOW__PASSWORD");
            if let Some(password) = password {
                command.env("SNOWSYNC_SERVICENOW__PASSWORD", password);
            }
            let out = command.output().unwrap();
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            (out.status.success(), text)
        })
    };
    let (ok, text) = run(vec!["migrate"], None).await.unwrap();
    assert!(ok, "{text}");

    let (ok, text) = run(vec!["check"], None).await.unwrap();
    assert!(!ok, "{text}");
    assert!(text.contains("FAIL wrong credentials"), "{text}");
    assert!(text.contains("set servicenow.password"), "{text}");

    let (ok, text) = run(vec!["check"], Some(password.clone())).await.unwrap();
    assert!(ok, "{text}");
    assert!(
        text.contains("password bootstrap: no refresh token was stored yet"),
        "{text}"
    );

    let (ok, text) = run(vec!["check"], None).await.unwrap();
    assert!(ok, "{text}");
    assert!(text.contains("; stored refresh token from"), "{text}");
    assert!(
        text.contains("servicenow.token_encryption_key set") && text.contains("lifespan 100 days"),
        "{text}"
    );
}

fn bootstrap_toml(extra: &str) -> String {
    format!(
        "[servicenow]\ninstance_url = \"https://acme.service-now.com\"\nauth = \"oauth_password_bootstrap\"\nclient_id = \"c\"\nclient_secret = \"s\"\nusername = \"svc\"\n{extra}"
    )
}

fn load(text: &str) -> Result<Config, snowsync::config::ConfigError> {
    Config::from_toml("bootstrap.toml", text, Vec::new())
}

#[test]
fn bootstrap_mode_needs_no_password_but_a_key() {
    let key = new_key();
    let config = load(&bootstrap_toml(&format!(
        "token_encryption_key = \"{key}\"\n"
    )))
    .unwrap();
    assert!(config.servicenow.password.is_none());
    let bootstrap = config.servicenow.bootstrap.as_ref().expect("the settings");
    assert_eq!(
        bootstrap.refresh_token_lifespan,
        Duration::from_secs(8_640_000)
    );
    assert!(!format!("{config:?}").contains(&key), "Debug shows the key");
    let described = snowsync::cli::describe(&config).join("\n");
    assert!(
        described.contains("servicenow.token_encryption_key set"),
        "{described}"
    );
    assert!(!described.contains(&key), "{described}");

    let err = load(&bootstrap_toml("")).unwrap_err();
    assert_eq!(err.key, "servicenow.token_encryption_key");
    assert!(
        err.message
            .contains("required when servicenow.auth = oauth_password_bootstrap"),
        "{err}"
    );
    assert!(err.message.contains("openssl rand -base64 32"), "{err}");
}

#[test]
fn a_key_that_is_not_32_bytes_of_base64_is_refused_without_echoing_it() {
    for value in ["c2hvcnQta2V5", "not*base64*at*all"] {
        let err = load(&bootstrap_toml(&format!(
            "token_encryption_key = \"{value}\"\n"
        )))
        .unwrap_err();
        assert_eq!(err.key, "servicenow.token_encryption_key");
        assert!(
            err.message.contains("must be 32 random bytes in base64"),
            "{err}"
        );
        assert!(!err.to_string().contains(value), "{err}");
    }
    let err = load(&bootstrap_toml("token_encryption_key = 12345678\n")).unwrap_err();
    assert!(!err.to_string().contains("12345678"), "{err}");
}

#[test]
fn a_key_file_is_read_and_named_in_its_errors() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token.key");
    std::fs::write(&file, format!("{}\n", new_key())).unwrap();
    let config = load(&bootstrap_toml(&format!(
        "token_encryption_key_file = \"{}\"\nrefresh_token_lifespan = \"30days\"\n",
        file.display()
    )))
    .unwrap();
    let bootstrap = config.servicenow.bootstrap.expect("the settings");
    assert_eq!(
        bootstrap.refresh_token_lifespan,
        Duration::from_secs(30 * 86_400)
    );

    std::fs::write(&file, "dG9vIHNob3J0\n").unwrap();
    let err = load(&bootstrap_toml(&format!(
        "token_encryption_key_file = \"{}\"\n",
        file.display()
    )))
    .unwrap_err();
    assert_eq!(err.key, "servicenow.token_encryption_key_file");
    assert!(!err.message.contains("dG9vIHNob3J0"), "{err}");

    let both = load(&bootstrap_toml(&format!(
        "token_encryption_key = \"{}\"\ntoken_encryption_key_file = \"{}\"\n",
        new_key(),
        file.display()
    )))
    .unwrap_err();
    assert!(both.message.contains("not both"), "{both}");
}

#[test]
fn bootstrap_settings_under_another_auth_mode_are_refused() {
    for (extra, key) in [
        (
            format!("token_encryption_key = \"{}\"\n", new_key()),
            "servicenow.token_encryption_key",
        ),
        (
            "refresh_token_lifespan = \"30days\"\n".to_owned(),
            "servicenow.refresh_token_lifespan",
        ),
    ] {
        let text = format!(
            "[servicenow]\ninstance_url = \"https://acme.service-now.com\"\nauth = \"oauth_password\"\nclient_id = \"c\"\nclient_secret = \"s\"\nusername = \"u\"\npassword = \"p\"\n{extra}"
        );
        let err = load(&text).unwrap_err();
        assert_eq!(err.key, key);
        assert!(
            err.message
                .contains("only used with servicenow.auth = oauth_password_bootstrap"),
            "{err}"
        );
    }
}

#[test]
fn bootstrap_mode_still_needs_the_user_and_the_oauth_application() {
    let key = new_key();
    let text = format!(
        "[servicenow]\ninstance_url = \"https://acme.service-now.com\"\nauth = \"oauth_password_bootstrap\"\nclient_id = \"c\"\nclient_secret = \"s\"\ntoken_encryption_key = \"{key}\"\n"
    );
    let err = load(&text).unwrap_err();
    assert_eq!(err.key, "servicenow.username");
    let err = load(&bootstrap_toml(&format!(
        "token_encryption_key = \"{key}\"\nrefresh_token_lifespan = \"0s\"\n"
    )))
    .unwrap_err();
    assert_eq!(err.key, "servicenow.refresh_token_lifespan");
}
