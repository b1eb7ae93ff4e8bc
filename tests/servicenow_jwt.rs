//! The OAuth JWT bearer grant against the emulator over HTTP: tokens obtained with RSA and EC
//! keys, renewed with a fresh assertion, a wrong key or key id refused with a clear line in
//! `check`, and the emulator's verifier accepting each assertion once.

mod servicenow_support;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use servicenow_support::{sim_config, token_requests};
use snowsync::config::{AuthMode, JwtAlgorithm, JwtConfig, ServiceNowConfig};
use snowsync::servicenow::report::{self, Level};
use snowsync::servicenow::{Client, JwtSigner};
use snowsync::sim::{self, JwtProvider, JwtUserField, SimConfig, SimHandle};

/// A key pair as PEM texts: the private key for snowsync, the public one for the instance.
struct Keys {
    private: String,
    public: String,
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

fn rsa_keys() -> Keys {
    let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let private = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair).unwrap();
    let public = pair.public_key().as_der().unwrap();
    Keys {
        private: pem("PRIVATE KEY", private.as_ref()),
        public: pem("PUBLIC KEY", public.as_ref()),
    }
}

fn ec_keys() -> Keys {
    let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let private = pair.to_pkcs8v1().unwrap();
    let public = pair.public_key().as_der().unwrap();
    Keys {
        private: pem("PRIVATE KEY", private.as_ref()),
        public: pem("PUBLIC KEY", public.as_ref()),
    }
}

async fn start(keys: &Keys, user_field: JwtUserField) -> SimHandle {
    sim::spawn(SimConfig {
        jwt_provider: Some(JwtProvider {
            key_id: "snowsync-key".into(),
            public_key_pem: keys.public.clone(),
            user_field,
            jti_verification: true,
        }),
        ..SimConfig::default()
    })
    .await
    .expect("start the emulator")
}

/// The client's configuration in JWT mode, with the integration user as subject.
fn jwt_config(sim: &SimHandle, keys: &Keys, algorithm: JwtAlgorithm) -> ServiceNowConfig {
    let (user, _) = sim.integration_credentials();
    ServiceNowConfig {
        username: None,
        password: None,
        jwt: Some(JwtConfig {
            key: SecretString::from(keys.private.clone()),
            key_id: "snowsync-key".into(),
            subject: user,
            algorithm,
        }),
        ..sim_config(sim, AuthMode::OauthJwtBearer)
    }
}

fn incident() -> serde_json::Map<String, serde_json::Value> {
    let mut m = serde_json::Map::new();
    m.insert("short_description".into(), "JWT".into());
    m
}

#[tokio::test]
async fn an_rsa_signed_assertion_obtains_a_token_that_writes_as_the_subject() {
    let keys = rsa_keys();
    let sim = start(&keys, JwtUserField::UserName).await;
    let client = Client::new(&jwt_config(&sim, &keys, JwtAlgorithm::RS256)).unwrap();
    let created = client
        .create("incident", &incident(), &["sys_created_by"])
        .await
        .unwrap();
    assert_eq!(created.str("sys_created_by"), Some("snowsync.integration"));
    client.query("incident", "", &["number"], 1).await.unwrap();
    assert_eq!(token_requests(&sim).await, 1, "the token is cached");
}

#[tokio::test]
async fn an_ec_key_signs_es256_assertions_for_a_subject_matched_by_email() {
    let keys = ec_keys();
    let sim = start(&keys, JwtUserField::Email).await;
    let mut config = jwt_config(&sim, &keys, JwtAlgorithm::ES256);
    config.jwt.as_mut().unwrap().subject = "snowsync.integration@example.com".into();
    let client = Client::new(&config).unwrap();
    let created = client
        .create("incident", &incident(), &["sys_created_by"])
        .await
        .unwrap();
    assert_eq!(created.str("sys_created_by"), Some("snowsync.integration"));
}

#[tokio::test]
async fn a_revoked_token_is_renewed_with_a_fresh_assertion() {
    let keys = rsa_keys();
    let sim = start(&keys, JwtUserField::UserName).await;
    let client = Client::new(&jwt_config(&sim, &keys, JwtAlgorithm::RS256)).unwrap();
    client.query("incident", "", &["number"], 1).await.unwrap();
    sim.revoke_tokens().await;
    // The instance accepts each jti once: this only passes if the second assertion is new.
    client.query("incident", "", &["number"], 1).await.unwrap();
    assert_eq!(token_requests(&sim).await, 2);
}

#[tokio::test]
async fn check_passes_every_line_in_jwt_mode() {
    let keys = rsa_keys();
    let sim = start(&keys, JwtUserField::UserName).await;
    let lines = report::check(&jwt_config(&sim, &keys, JwtAlgorithm::RS256)).await;
    let text: Vec<String> = lines.iter().map(ToString::to_string).collect();
    assert!(lines.iter().all(|l| l.level == Level::Ok), "{text:#?}");
    assert!(
        text[0].contains(
            "OAuth JWT bearer grant for subject snowsync.integration, key id snowsync-key"
        ),
        "{text:#?}"
    );
}

#[tokio::test]
async fn check_fails_with_a_clear_line_when_the_key_is_not_the_instances() {
    let keys = rsa_keys();
    let sim = start(&keys, JwtUserField::UserName).await;
    let other = rsa_keys();
    let lines = report::check(&jwt_config(&sim, &other, JwtAlgorithm::RS256)).await;
    assert_eq!(lines.len(), 1, "nothing else is tried: {lines:?}");
    let line = lines[0].to_string();
    assert_eq!(lines[0].level, Level::Fail);
    assert!(line.starts_with("FAIL wrong credentials"), "{line}");
    assert!(line.contains("jwt_bearer"), "{line}");
    assert!(line.contains("key id snowsync-key"), "{line}");
    assert!(!line.contains("PRIVATE KEY"), "{line}");
}

/// Whether a client signing in with `config` is refused by the emulator.
async fn refused(config: &ServiceNowConfig) -> bool {
    let err = Client::new(config)
        .unwrap()
        .query("incident", "", &["number"], 1)
        .await
        .unwrap_err();
    err.is_auth()
}

#[tokio::test]
async fn an_unknown_key_id_is_refused() {
    let keys = rsa_keys();
    let sim = start(&keys, JwtUserField::UserName).await;
    let mut config = jwt_config(&sim, &keys, JwtAlgorithm::RS256);
    config.jwt.as_mut().unwrap().key_id = "rotated-away".into();
    assert!(refused(&config).await);
}

#[tokio::test]
async fn a_subject_with_no_user_is_refused() {
    let keys = rsa_keys();
    let sim = start(&keys, JwtUserField::UserName).await;
    let mut config = jwt_config(&sim, &keys, JwtAlgorithm::RS256);
    config.jwt.as_mut().unwrap().subject = "nobody".into();
    assert!(refused(&config).await);
}

/// The emulator's verifier, over plain HTTP: a replayed assertion gets the refusal a bad one
/// gets.
#[tokio::test]
async fn the_emulator_accepts_an_assertion_once() {
    let keys = rsa_keys();
    let sim = start(&keys, JwtUserField::UserName).await;
    let (client_id, secret) = sim.oauth_client();
    let signer = JwtSigner::new(
        JwtAlgorithm::RS256,
        "snowsync-key",
        &SecretString::from(keys.private.clone()),
    )
    .unwrap();
    let assertion = signer
        .assertion(
            &client_id,
            "snowsync.integration",
            chrono::Utc::now().timestamp(),
        )
        .unwrap();
    let form = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
        ("client_id", client_id.as_str()),
        ("client_secret", secret.as_str()),
        ("assertion", assertion.expose_secret()),
    ];
    let http = reqwest::Client::new();
    let url = sim.base_url().join("oauth_token.do").unwrap();
    let first = http.post(url.clone()).form(&form).send().await.unwrap();
    assert_eq!(first.status(), 200);
    let body: serde_json::Value = first.json().await.unwrap();
    assert!(body["access_token"].is_string(), "{body}");
    assert!(body.get("refresh_token").is_none(), "{body}");
    let replay = http.post(url).form(&form).send().await.unwrap();
    assert_eq!(replay.status(), 401);
}

#[test]
fn a_key_that_does_not_fit_the_algorithm_is_refused_without_showing_it() {
    let keys = ec_keys();
    let err = JwtSigner::new(
        JwtAlgorithm::RS256,
        "k",
        &SecretString::from(keys.private.clone()),
    )
    .unwrap_err();
    assert!(err.contains("RS256"), "{err}");
    assert!(!err.contains("PRIVATE"), "{err}");
}

fn jwt_toml(extra: &str) -> String {
    format!(
        "[servicenow]\ninstance_url = \"https://acme.service-now.com\"\nauth = \"oauth_jwt_bearer\"\nclient_id = \"c\"\nclient_secret = \"s\"\n{extra}"
    )
}

fn load(text: &str) -> Result<snowsync::config::Config, snowsync::config::ConfigError> {
    snowsync::config::Config::from_toml("jwt.toml", text, Vec::new())
}

#[test]
fn a_jwt_configuration_reads_and_proves_its_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("snowsync-jwt.pem");
    std::fs::write(&key, ec_keys().private).unwrap();
    let config = load(&jwt_toml(&format!(
        "jwt_key_file = \"{}\"\njwt_key_id = \"k1\"\njwt_subject = \"svc@example.com\"\njwt_algorithm = \"ES256\"\n",
        key.display()
    )))
    .unwrap();
    assert!(!format!("{:?}", config.servicenow).contains("PRIVATE"));
    let jwt = config.servicenow.jwt.expect("the JWT settings");
    assert_eq!(jwt.key_id, "k1");
    assert_eq!(jwt.subject, "svc@example.com");
    assert_eq!(jwt.algorithm, JwtAlgorithm::ES256);
}

#[test]
fn jwt_mode_without_a_key_file_names_the_missing_key() {
    let err = load(&jwt_toml("jwt_key_id = \"k1\"\njwt_subject = \"svc\"\n")).unwrap_err();
    assert_eq!(err.key, "servicenow.jwt_key_file");
    assert!(err.message.contains("oauth_jwt_bearer"), "{err}");
}

#[test]
fn a_key_file_that_holds_no_key_is_refused_naming_the_file_not_its_text() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("broken.pem");
    std::fs::write(
        &key,
        "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LXRleHQ=\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let err = load(&jwt_toml(&format!(
        "jwt_key_file = \"{}\"\njwt_key_id = \"k1\"\njwt_subject = \"svc\"\n",
        key.display()
    )))
    .unwrap_err();
    assert_eq!(err.key, "servicenow.jwt_key_file");
    assert!(err.message.contains("broken.pem"), "{err}");
    assert!(err.message.contains("RS256"), "{err}");
    assert!(!err.to_string().contains("c2VjcmV0"), "{err}");
}

#[test]
fn jwt_settings_under_another_auth_mode_are_refused() {
    let text = "[servicenow]\ninstance_url = \"https://acme.service-now.com\"\nusername = \"u\"\npassword = \"p\"\njwt_subject = \"svc\"\n";
    let err = load(text).unwrap_err();
    assert_eq!(err.key, "servicenow.jwt_subject");
    assert!(
        err.message
            .contains("only used with servicenow.auth = oauth_jwt_bearer"),
        "{err}"
    );
}

/// The binary, as an admin runs it: `snowsync check` with a configuration file in JWT mode.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snowsync_check_passes_in_jwt_mode_against_the_emulator() {
    let keys = rsa_keys();
    let sim = start(&keys, JwtUserField::UserName).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("snowsync-jwt.pem"), &keys.private).unwrap();
    let (client_id, secret) = sim.oauth_client();
    let instance = sim.base_url();
    let config = dir.path().join("snowsync.toml");
    std::fs::write(
        &config,
        format!(
            r#"[servicenow]
instance_url = "{instance}"
auth = "oauth_jwt_bearer"
client_id = "{client_id}"
client_secret = "{secret}"
jwt_key_file = "snowsync-jwt.pem"
jwt_key_id = "snowsync-key"
jwt_subject = "snowsync.integration"

[database]
url = "sqlite://{}/snowsync.db?mode=rwc"
"#,
            dir.path().display()
        ),
    )
    .unwrap();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_snowsync"))
            .args(["check", "--config", config.to_str().unwrap()])
            .env_remove("SNOWSYNC_CONFIG")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("ok   authentication") && text.contains("OAuth JWT bearer grant"),
        "{text}"
    );
    assert!(
        text.contains("servicenow.jwt: subject snowsync.integration, key id snowsync-key, RS256"),
        "{text}"
    );
    assert!(!text.contains("FAIL"), "{text}");
    assert!(!text.contains("PRIVATE KEY"), "{text}");
}
