//! The `[servicenow]` section: the instance URL, the credentials its auth mode needs, and the
//! client's timeouts and limits.

use std::path::Path;
use std::time::Duration;

use secrecy::SecretString;
use url::Url;

use super::{count, nonzero, secret};

/// The most requests in flight to one instance (ServiceNow's own per-node semaphores hold
/// far fewer).
const MAX_CONCURRENCY: usize = 256;
use crate::config::raw::ServiceNow;
use crate::config::{
    AuthMode, BootstrapConfig, ConfigError, JwtAlgorithm, JwtConfig, ServiceNowConfig,
};

/// The credentials as configured, before checking that the auth mode has what it needs.
struct Credentials {
    client_id: Option<String>,
    client_secret: Option<SecretString>,
    username: Option<String>,
    password: Option<SecretString>,
}

pub(super) fn servicenow(
    origin: &str,
    mut sn: ServiceNow,
) -> Result<ServiceNowConfig, ConfigError> {
    let allow_insecure_http = sn.allow_insecure_http.unwrap_or(false);
    let instance_url = instance_url(
        sn.instance_url
            .as_deref()
            .unwrap_or("http://127.0.0.1:18080"),
        allow_insecure_http,
    )
    .map_err(|m| ConfigError::new(origin, "servicenow.instance_url", m))?;
    let auth = sn.auth.unwrap_or(AuthMode::Basic);
    let credentials = credentials(origin, &mut sn)?;
    require_credentials(origin, auth, &credentials)?;
    let jwt = jwt(origin, auth, &mut sn)?;
    let bootstrap = bootstrap(origin, auth, &mut sn)?;
    if let Some(ca) = &sn.ca_file {
        ca_file(origin, ca)?;
    }
    let requests_per_second = requests_per_second(origin, sn.requests_per_second)?;
    Ok(ServiceNowConfig {
        instance_url,
        auth,
        client_id: credentials.client_id,
        client_secret: credentials.client_secret,
        username: credentials.username,
        password: credentials.password,
        jwt,
        bootstrap,
        connect_timeout: nonzero(
            origin,
            "servicenow.connect_timeout",
            sn.connect_timeout.unwrap_or(Duration::from_secs(10)),
        )?,
        request_timeout: nonzero(
            origin,
            "servicenow.request_timeout",
            sn.request_timeout.unwrap_or(Duration::from_secs(30)),
        )?,
        max_concurrency: count(
            origin,
            "servicenow.max_concurrency",
            sn.max_concurrency.unwrap_or(8),
            MAX_CONCURRENCY,
        )?,
        requests_per_second,
        ca_file: sn.ca_file,
        allow_insecure_http,
    })
}

/// Parses and normalises the instance URL: trailing `/` added, https unless loopback or allowed.
pub fn instance_url(text: &str, allow_insecure_http: bool) -> Result<Url, String> {
    let mut url = Url::parse(text.trim()).map_err(|e| format!("not a URL ({e})"))?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must not carry a query or a fragment".to_owned());
    }
    // Credentials in the URL would be printed wherever the URL is; they have their keys.
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "must not carry a user name or password (set servicenow.username and servicenow.password)"
                .to_owned(),
        );
    }
    let loopback = super::loopback(&url).ok_or("has no host")?;
    match url.scheme() {
        "https" => {}
        "http" if loopback || allow_insecure_http => {}
        "http" => {
            return Err(
                "must use https (http is only allowed for loopback hosts or with allow_insecure_http = true)"
                    .to_owned(),
            );
        }
        other => return Err(format!("unsupported scheme `{other}`")),
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// Takes the credentials out of `sn`, reading secrets from their files and filling in the
/// emulator's default account when there is no file at all.
fn credentials(origin: &str, sn: &mut ServiceNow) -> Result<Credentials, ConfigError> {
    let client_secret = secret(
        origin,
        "servicenow.client_secret",
        sn.client_secret.take(),
        sn.client_secret_file.take(),
    )?;
    let password = secret(
        origin,
        "servicenow.password",
        sn.password.take(),
        sn.password_file.take(),
    )?;
    // Without an instance URL (no file, an empty file), the defaults talk to `snowsync sim`
    // on loopback with its default accounts.
    let builtin = sn.instance_url.is_none();
    let username = sn
        .username
        .take()
        .or_else(|| builtin.then(|| "snowsync.integration".to_owned()));
    let password = password.or_else(|| builtin.then(|| SecretString::from("snowsync")));
    Ok(Credentials {
        client_id: sn.client_id.take(),
        client_secret,
        username,
        password,
    })
}

/// Each auth mode names the credentials it needs; the first missing one is the error.
fn require_credentials(
    origin: &str,
    auth: AuthMode,
    credentials: &Credentials,
) -> Result<(), ConfigError> {
    let require = |present: bool, key: &str| {
        if present {
            Ok(())
        } else {
            Err(ConfigError::new(
                origin,
                key,
                format!("required when servicenow.auth = {}", auth.as_str()),
            ))
        }
    };
    let client_id = || require(credentials.client_id.is_some(), "servicenow.client_id");
    let client_secret = || {
        require(
            credentials.client_secret.is_some(),
            "servicenow.client_secret",
        )
    };
    let username = || require(credentials.username.is_some(), "servicenow.username");
    let password = || require(credentials.password.is_some(), "servicenow.password");
    match auth {
        AuthMode::Basic => {
            username()?;
            password()
        }
        AuthMode::OauthPassword => {
            client_id()?;
            client_secret()?;
            username()?;
            password()
        }
        // The password is needed only while no refresh token is stored, which the
        // database knows, not the file: the client says so at start.
        AuthMode::OauthPasswordBootstrap => {
            client_id()?;
            client_secret()?;
            username()
        }
        AuthMode::OauthClientCredentials | AuthMode::OauthJwtBearer => {
            client_id()?;
            client_secret()
        }
    }
}

/// The JWT bearer grant's settings: all three required in that mode, refused in any other
/// (a key file that is silently ignored would hide a mistaken `auth`). The key is read and
/// proven by signing once, so a bad key stops the start, not the first delivery.
fn jwt(
    origin: &str,
    auth: AuthMode,
    sn: &mut ServiceNow,
) -> Result<Option<JwtConfig>, ConfigError> {
    let key_file = sn.jwt_key_file.take();
    let key_id = sn.jwt_key_id.take();
    let subject = sn.jwt_subject.take();
    let algorithm = sn.jwt_algorithm.take();
    if auth != AuthMode::OauthJwtBearer {
        let set = [
            ("servicenow.jwt_key_file", key_file.is_some()),
            ("servicenow.jwt_key_id", key_id.is_some()),
            ("servicenow.jwt_subject", subject.is_some()),
            ("servicenow.jwt_algorithm", algorithm.is_some()),
        ];
        return match set.iter().find(|(_, present)| *present) {
            Some((key, _)) => Err(ConfigError::new(
                origin,
                *key,
                format!(
                    "only used with servicenow.auth = oauth_jwt_bearer (auth is {})",
                    auth.as_str()
                ),
            )),
            None => Ok(None),
        };
    }
    let required = |key: &str| {
        ConfigError::new(
            origin,
            key,
            "required when servicenow.auth = oauth_jwt_bearer",
        )
    };
    let key_file = key_file.ok_or_else(|| required("servicenow.jwt_key_file"))?;
    let key_id = non_blank(key_id).ok_or_else(|| required("servicenow.jwt_key_id"))?;
    let subject = non_blank(subject).ok_or_else(|| required("servicenow.jwt_subject"))?;
    let algorithm = algorithm.unwrap_or(JwtAlgorithm::RS256);
    let key = std::fs::read_to_string(&key_file)
        .map(SecretString::from)
        .map_err(|e| {
            ConfigError::new(
                origin,
                "servicenow.jwt_key_file",
                format!("cannot read {}: {e}", key_file.display()),
            )
        })?;
    crate::servicenow::JwtSigner::new(algorithm, &key_id, &key).map_err(|m| {
        ConfigError::new(
            origin,
            "servicenow.jwt_key_file",
            format!("{}: {m}", key_file.display()),
        )
    })?;
    Ok(Some(JwtConfig {
        key,
        key_id,
        subject,
        algorithm,
    }))
}

/// ServiceNow's default "Refresh Token Lifespan" (8,640,000 s).
const REFRESH_TOKEN_LIFESPAN: Duration = Duration::from_secs(100 * 24 * 3600);

/// The stored refresh token's key and lifespan: the key required in that mode, both refused
/// in any other. The key is proven at load, as the client will use it.
fn bootstrap(
    origin: &str,
    auth: AuthMode,
    sn: &mut ServiceNow,
) -> Result<Option<BootstrapConfig>, ConfigError> {
    const KEY: &str = "servicenow.token_encryption_key";
    let inline = sn.token_encryption_key.take();
    let file = sn.token_encryption_key_file.take();
    let lifespan = sn.refresh_token_lifespan.take();
    if auth != AuthMode::OauthPasswordBootstrap {
        let set = [
            (KEY, inline.is_some()),
            ("servicenow.token_encryption_key_file", file.is_some()),
            ("servicenow.refresh_token_lifespan", lifespan.is_some()),
        ];
        return match set.iter().find(|(_, present)| *present) {
            Some((key, _)) => Err(ConfigError::new(
                origin,
                *key,
                format!(
                    "only used with servicenow.auth = oauth_password_bootstrap (auth is {})",
                    auth.as_str()
                ),
            )),
            None => Ok(None),
        };
    }
    let from_file = file.is_some();
    let key = secret(origin, KEY, inline, file)?.ok_or_else(|| {
        ConfigError::new(
            origin,
            KEY,
            "required when servicenow.auth = oauth_password_bootstrap: 32 random bytes in base64 (`openssl rand -base64 32`), the key the refresh token is stored under",
        )
    })?;
    crate::servicenow::TokenKey::from_base64(&key).map_err(|m| {
        let key = if from_file {
            "servicenow.token_encryption_key_file"
        } else {
            KEY
        };
        ConfigError::new(origin, key, m)
    })?;
    Ok(Some(BootstrapConfig {
        token_encryption_key: key,
        refresh_token_lifespan: nonzero(
            origin,
            "servicenow.refresh_token_lifespan",
            lifespan.unwrap_or(REFRESH_TOKEN_LIFESPAN),
        )?,
    }))
}

fn non_blank(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

/// The same check the client makes when it starts (`servicenow::ca_certificates`).
fn ca_file(origin: &str, ca: &Path) -> Result<(), ConfigError> {
    crate::servicenow::ca_certificates(ca)
        .map(drop)
        .map_err(|message| {
            let message = message
                .strip_prefix("servicenow.ca_file: ")
                .unwrap_or(&message)
                .to_owned();
            ConfigError::new(origin, "servicenow.ca_file", message)
        })
}

fn requests_per_second(origin: &str, value: Option<f64>) -> Result<f64, ConfigError> {
    let requests_per_second = value.unwrap_or(20.0);
    if requests_per_second.is_finite() && requests_per_second > 0.0 {
        Ok(requests_per_second)
    } else {
        Err(ConfigError::new(
            origin,
            "servicenow.requests_per_second",
            "must be a positive number",
        ))
    }
}
