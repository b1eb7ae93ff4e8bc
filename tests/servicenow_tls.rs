//! TLS to the instance: certificates are always verified, a private CA is trusted only through
//! `servicenow.ca_file`, and plain http is refused for a remote host unless explicitly allowed.
//!
//! The CA and the server certificate (for 127.0.0.1 and localhost) are generated per test; the
//! server is a stand-in that answers a Table API GET like an instance, over HTTPS on loopback.

mod servicenow_support;

use std::sync::Arc;

use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::json;
use snowsync::config::{AuthMode, Config};
use snowsync::servicenow::{Client, Disposition, ServiceNowError};

use servicenow_support::config;

/// What `servicenow.auth = "basic"` needs besides the URL.
const CREDENTIALS: &str = "username = \"snowsync.integration\"\npassword = \"p\"\n";

const SYS_ID: &str = "46d44a5fa9fe198100bf5d1f2d0e4c09";

/// A certificate authority made for one test, and a server certificate it signed.
struct Pki {
    ca_pem: String,
    server_cert: CertificateDer<'static>,
    server_key: PrivateKeyDer<'static>,
}

fn pki(ca_name: &str) -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, ca_name);
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);

    let server_key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&server_key, &issuer)
        .unwrap();
    Pki {
        ca_pem: ca_cert.pem(),
        server_cert: server.der().clone(),
        server_key: PrivatePkcs8KeyDer::from(server_key.serialize_der()).into(),
    }
}

/// Serves HTTPS on 127.0.0.1 port 0 with `pki`'s server certificate, answering every request
/// with one incident, as `GET /api/now/table/incident/{sys_id}` does. Returns the base URL.
async fn https_instance(pki: &Pki) -> url::Url {
    let tls = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![pki.server_cert.clone()], pki.server_key.clone_key())
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    let app = axum::Router::new().fallback(|| async {
        axum::Json(json!({"result": {"sys_id": SYS_ID, "number": "INC0010001"}}))
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let (acceptor, app) = (acceptor.clone(), app.clone());
            tokio::spawn(async move {
                // A client that refuses the certificate ends the handshake here.
                let Ok(stream) = acceptor.accept(tcp).await else {
                    return;
                };
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), TowerToHyperService::new(app))
                    .await;
            });
        }
    });
    url::Url::parse(&format!("https://localhost:{}/", addr.port())).unwrap()
}

fn write_ca(dir: &tempfile::TempDir, pem: &str) -> std::path::PathBuf {
    let path = dir.path().join("ca.pem");
    std::fs::write(&path, pem).unwrap();
    path
}

async fn get_incident(client: &Client) -> Result<Option<String>, ServiceNowError> {
    let record = client.get("incident", SYS_ID, &["number"]).await?;
    Ok(record.and_then(|r| r.str("number").map(str::to_owned)))
}

#[tokio::test]
async fn the_client_trusts_an_instance_signed_by_the_configured_ca_file() {
    let pki = pki("snowsync test CA");
    let base = https_instance(&pki).await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&base, AuthMode::Basic);
    cfg.ca_file = Some(write_ca(&dir, &pki.ca_pem));

    let client = Client::new(&cfg).unwrap();

    assert_eq!(
        get_incident(&client).await.unwrap().as_deref(),
        Some("INC0010001")
    );
}

#[tokio::test]
async fn without_the_ca_file_the_same_request_fails_as_an_unsent_certificate_error() {
    let pki = pki("snowsync test CA");
    let base = https_instance(&pki).await;
    let client = Client::new(&config(&base, AuthMode::Basic)).unwrap();

    let err = get_incident(&client).await.unwrap_err();

    let ServiceNowError::Transport { message, sent, .. } = &err else {
        panic!("expected a transport error, got {err:?}");
    };
    assert!(
        message.to_ascii_lowercase().contains("certificate"),
        "the message names the certificate: {message}"
    );
    assert!(!sent, "a refused handshake never reaches the instance");
    assert!(!err.is_ambiguous_write());
    // An instance we cannot trust is an outage: the pool pauses (backoff capped at the retry
    // policy's max) and rows keep their attempts; no row is retried on its own meanwhile.
    assert_eq!(err.classify(), Disposition::Outage { after: None });
}

#[tokio::test]
async fn a_ca_file_for_another_authority_does_not_make_the_instance_trusted() {
    let pki = pki("snowsync test CA");
    let other = self::pki("some other CA");
    let base = https_instance(&pki).await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&base, AuthMode::Basic);
    cfg.ca_file = Some(write_ca(&dir, &other.ca_pem));
    // Allowing plain http does not touch the verification of https.
    cfg.allow_insecure_http = true;

    let err = get_incident(&Client::new(&cfg).unwrap()).await.unwrap_err();

    assert!(
        err.to_string().to_ascii_lowercase().contains("certificate"),
        "{err}"
    );
}

#[test]
fn no_config_key_turns_certificate_verification_off() {
    for key in [
        "danger_accept_invalid_certs",
        "accept_invalid_certs",
        "insecure",
        "tls_verify",
        "verify_tls",
        "verify",
    ] {
        let text = format!(
            "[servicenow]\ninstance_url = \"https://example.service-now.com\"\n{key} = false\n"
        );
        let err = Config::from_toml("snowsync.toml", &text, Vec::new()).unwrap_err();
        assert!(
            err.to_string().contains(key),
            "`{key}` is refused as unknown: {err}"
        );
    }
}

#[test]
fn the_source_never_disables_certificate_verification() {
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
    let mut stack = vec![std::path::PathBuf::from(src)];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            for needle in [
                "danger_accept_invalid_certs",
                "danger_accept_invalid_hostnames",
                "tls_danger",
                "dangerous()",
                "ServerCertVerifier",
            ] {
                assert!(
                    !text.contains(needle),
                    "{} contains `{needle}`",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn plain_http_to_a_remote_instance_is_refused_at_load_naming_the_key() {
    let text = "[servicenow]\ninstance_url = \"http://example.service-now.com\"\n";

    let err = Config::from_toml("snowsync.toml", text, Vec::new()).unwrap_err();

    assert_eq!(err.key, "servicenow.instance_url");
    assert!(err.message.contains("must use https"), "{err}");
}

#[test]
fn plain_http_to_loopback_is_allowed_for_the_emulator() {
    for host in ["127.0.0.1:18080", "localhost:18080", "[::1]:18080"] {
        let text = format!("[servicenow]\ninstance_url = \"http://{host}\"\n{CREDENTIALS}");
        let config = Config::from_toml("snowsync.toml", &text, Vec::new())
            .unwrap_or_else(|e| panic!("{host}: {e}"));
        assert_eq!(config.servicenow.instance_url.scheme(), "http");
    }
}

#[test]
fn a_host_that_only_looks_like_loopback_is_remote() {
    for host in ["127.0.0.1.example.com", "localhost.example.com", "0.0.0.0"] {
        let text = format!("[servicenow]\ninstance_url = \"http://{host}\"\n");
        let err = Config::from_toml("snowsync.toml", &text, Vec::new()).unwrap_err();
        assert_eq!(err.key, "servicenow.instance_url", "{host}");
    }
}

#[test]
fn allow_insecure_http_is_the_one_explicit_exception_for_a_remote_http_instance() {
    let text = format!(
        "[servicenow]\ninstance_url = \"http://example.service-now.com\"\nallow_insecure_http = true\n{CREDENTIALS}"
    );

    let config = Config::from_toml("snowsync.toml", &text, Vec::new()).unwrap();

    assert!(config.servicenow.allow_insecure_http);
    assert_eq!(config.servicenow.instance_url.scheme(), "http");
}

#[test]
fn allow_insecure_http_does_not_allow_other_schemes() {
    let text = "[servicenow]\ninstance_url = \"ftp://example.service-now.com\"\nallow_insecure_http = true\n";

    let err = Config::from_toml("snowsync.toml", text, Vec::new()).unwrap_err();

    assert_eq!(err.key, "servicenow.instance_url");
    assert!(err.message.contains("ftp"), "{err}");
}
