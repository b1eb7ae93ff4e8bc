//! `snowsync sim`: flags to a `SimConfig`, a start-up banner, serving until stopped.
//! Prints passwords only when they are the published defaults.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use tokio_util::sync::CancellationToken;

use super::{
    Account, AfterCommit, FaultRule, Faults, JwtProvider, JwtUserField, RateLimit, SimConfig,
};

pub const DEFAULT_INTEGRATION_USER: &str = "snowsync.integration";
pub const DEFAULT_INTEGRATION_PASSWORD: &str = "snowsync";
pub const DEFAULT_HELP_DESK_USER: &str = "help.desk";
pub const DEFAULT_HELP_DESK_PASSWORD: &str = "help.desk";
pub const DEFAULT_CLIENT_ID: &str = "snowsync";
pub const DEFAULT_CLIENT_SECRET: &str = "snowsync-secret";

/// Flags of `snowsync sim`.
#[derive(Debug, clap::Args)]
pub struct SimArgs {
    /// Address to serve on
    #[arg(long, default_value = "127.0.0.1:18080")]
    pub listen: SocketAddr,
    /// Instance URL used in links and Location headers [default: from the Host header]
    #[arg(long, value_name = "URL")]
    pub public_url: Option<url::Url>,
    /// User name of the integration account
    #[arg(long, default_value = DEFAULT_INTEGRATION_USER)]
    pub integration_user: String,
    /// Password of the integration account
    #[arg(long, env = "SNOWSYNC_SIM_INTEGRATION_PASSWORD", hide_env_values = true, default_value = DEFAULT_INTEGRATION_PASSWORD)]
    pub integration_password: String,
    /// User name of the help-desk account
    #[arg(long, default_value = DEFAULT_HELP_DESK_USER)]
    pub help_desk_user: String,
    /// Password of the help-desk account
    #[arg(long, env = "SNOWSYNC_SIM_HELP_DESK_PASSWORD", hide_env_values = true, default_value = DEFAULT_HELP_DESK_PASSWORD)]
    pub help_desk_password: String,
    /// OAuth client id
    #[arg(long, default_value = DEFAULT_CLIENT_ID)]
    pub client_id: String,
    /// OAuth client secret
    #[arg(long, env = "SNOWSYNC_SIM_CLIENT_SECRET", hide_env_values = true, default_value = DEFAULT_CLIENT_SECRET)]
    pub client_secret: String,
    /// Refuse the client_credentials grant, as a real instance does by default
    #[arg(long)]
    pub no_client_credentials: bool,
    /// Accept the JWT bearer grant, verifying assertions with this public key (PEM, RSA or EC)
    #[arg(long, value_name = "FILE")]
    pub jwt_public_key: Option<PathBuf>,
    /// The `kid` of the JWT verifier map entry holding --jwt-public-key
    #[arg(long, default_value = "snowsync", requires = "jwt_public_key")]
    pub jwt_key_id: String,
    /// The sys_user field a JWT's subject is matched against
    #[arg(
        long,
        value_enum,
        default_value = "user-name",
        requires = "jwt_public_key"
    )]
    pub jwt_user_field: JwtUserField,
    /// Access token lifetime in seconds (the `expires_in` reported)
    #[arg(long, default_value_t = 1799)]
    pub expires_in: u64,
    /// Seed for the probabilistic faults
    #[arg(long)]
    pub seed: Option<u64>,
    /// Latency added to every request, e.g. `50ms`
    #[arg(long, value_parser = humantime::parse_duration)]
    pub latency: Option<Duration>,
    /// Random extra latency, up to this much, e.g. `20ms`
    #[arg(long, value_parser = humantime::parse_duration)]
    pub jitter: Option<Duration>,
    /// Share of requests answered 500 (0 to 1)
    #[arg(long)]
    pub error_rate: Option<f64>,
    /// Share of requests answered 503 (0 to 1)
    #[arg(long)]
    pub unavailable_rate: Option<f64>,
    /// Share of requests served, then answered 500 (0 to 1)
    #[arg(long)]
    pub commit_then_fail_rate: Option<f64>,
    /// Share of requests that never get an answer (0 to 1)
    #[arg(long)]
    pub hang_rate: Option<f64>,
    /// Share of requests whose connection is reset (0 to 1)
    #[arg(long)]
    pub reset_rate: Option<f64>,
    /// A rate-limit rule: requests allowed per user and hour
    #[arg(long)]
    pub rate_limit_per_hour: Option<u64>,
    /// Answer every request with the hibernating-instance page
    #[arg(long)]
    pub hibernating: bool,
    /// Faults as JSON (the body `POST /sim/faults` takes); the flags above add to it
    #[arg(long, value_name = "FILE")]
    pub faults: Option<PathBuf>,
    /// Refuse writes to label_entry with 403
    #[arg(long)]
    pub deny_label_entry_writes: bool,
    /// Return no rows for queries with an invalid part (glide.invalid_query.returns_no_rows)
    #[arg(long)]
    pub invalid_query_returns_no_rows: bool,
    /// Run without the Security Incident Response plugin: no sn_si_incident table
    #[arg(long)]
    pub no_security_incident_response: bool,
}

/// Why `snowsync sim` could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimCliError {
    #[error("reading the faults file {path}: {source}")]
    FaultsFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the faults file {path} is invalid at {at}: {message}")]
    FaultsJson {
        path: PathBuf,
        at: String,
        message: String,
    },
    #[error("--{flag} must be between 0 and 1, got {value}")]
    Share { flag: &'static str, value: f64 },
    #[error("reading the JWT public key {path}: {source}")]
    JwtKey {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("serving the emulator: {0}")]
    Io(#[from] std::io::Error),
}

impl SimArgs {
    /// The configuration these flags describe.
    pub fn config(&self) -> Result<SimConfig, SimCliError> {
        let mut faults = match &self.faults {
            None => Faults::none(),
            Some(path) => {
                let text = std::fs::read(path).map_err(|source| SimCliError::FaultsFile {
                    path: path.clone(),
                    source,
                })?;
                let mut de = serde_json::Deserializer::from_slice(&text);
                serde_path_to_error::deserialize(&mut de).map_err(|e| SimCliError::FaultsJson {
                    path: path.clone(),
                    at: e.path().to_string(),
                    message: e.inner().to_string(),
                })?
            }
        };
        if let Some(seed) = self.seed {
            faults.seed = Some(seed);
        }
        if self.latency.is_some() || self.jitter.is_some() {
            faults.rules.push(FaultRule::latency(
                self.latency.unwrap_or_default(),
                self.jitter.unwrap_or_default(),
            ));
        }
        let shares = [
            ("error-rate", self.error_rate, FaultRule::error(500, 0.0)),
            (
                "unavailable-rate",
                self.unavailable_rate,
                FaultRule::error(503, 0.0),
            ),
            (
                "commit-then-fail-rate",
                self.commit_then_fail_rate,
                FaultRule::commit_then_fail(AfterCommit::Error, 0.0),
            ),
            ("hang-rate", self.hang_rate, FaultRule::hang(0.0)),
            ("reset-rate", self.reset_rate, FaultRule::reset(0.0)),
        ];
        for (flag, value, rule) in shares {
            let Some(p) = value else { continue };
            if !(0.0..=1.0).contains(&p) {
                return Err(SimCliError::Share { flag, value: p });
            }
            faults.rules.push(FaultRule {
                probability: p,
                ..rule
            });
        }
        if let Some(per_hour) = self.rate_limit_per_hour {
            faults.rate_limit = Some(RateLimit {
                per_hour,
                user: None,
            });
        }
        faults.hibernating |= self.hibernating;
        let jwt_provider = match &self.jwt_public_key {
            None => None,
            Some(path) => Some(JwtProvider {
                key_id: self.jwt_key_id.clone(),
                public_key_pem: std::fs::read_to_string(path).map_err(|source| {
                    SimCliError::JwtKey {
                        path: path.clone(),
                        source,
                    }
                })?,
                user_field: self.jwt_user_field,
                jti_verification: true,
            }),
        };
        Ok(SimConfig {
            jwt_provider,
            listen: self.listen,
            public_url: self.public_url.clone(),
            integration: Account::new(
                &self.integration_user,
                &self.integration_password,
                "SnowSync Integration",
            ),
            help_desk: Account::new(&self.help_desk_user, &self.help_desk_password, "Help Desk"),
            oauth_client_id: self.client_id.clone(),
            oauth_client_secret: SecretString::from(self.client_secret.clone()),
            client_credentials_enabled: !self.no_client_credentials,
            expires_in: self.expires_in,
            faults,
            invalid_query_returns_no_rows: self.invalid_query_returns_no_rows,
            deny_label_entry_writes: self.deny_label_entry_writes,
            security_incident_response: !self.no_security_incident_response,
            ..SimConfig::default()
        })
    }
}

/// A password as the banner shows it: the published default in clear, anything else hidden.
fn shown(secret: &SecretString, default: &str) -> String {
    if secret.expose_secret() == default {
        format!("password {default}")
    } else {
        "password set".to_owned()
    }
}

/// The banner lines printed at start.
pub fn banner(config: &SimConfig, url: &url::Url) -> Vec<String> {
    vec![
        format!("ServiceNow emulator listening on {url}"),
        format!(
            "  integration user {} ({})",
            config.integration.user_name,
            shown(&config.integration.password, DEFAULT_INTEGRATION_PASSWORD)
        ),
        format!(
            "  help-desk user   {} ({})",
            config.help_desk.user_name,
            shown(&config.help_desk.password, DEFAULT_HELP_DESK_PASSWORD)
        ),
        format!(
            "  OAuth client     {} (secret {}), tokens expire in {} s",
            config.oauth_client_id,
            if config.oauth_client_secret.expose_secret() == DEFAULT_CLIENT_SECRET {
                DEFAULT_CLIENT_SECRET
            } else {
                "set"
            },
            config.expires_in
        ),
        match &config.jwt_provider {
            Some(p) => format!(
                "  JWT bearer grant: key id {}, subject matched on sys_user.{}",
                p.key_id,
                p.user_field.column()
            ),
            None => "  JWT bearer grant: off (--jwt-public-key turns it on)".to_owned(),
        },
        if config.security_incident_response {
            "  Security Incident Response: installed (sn_si_incident)".to_owned()
        } else {
            "  Security Incident Response: not installed (--no-security-incident-response)"
                .to_owned()
        },
        format!("  stats at {url}sim/stats, faults at {url}sim/faults"),
    ]
}

/// Runs `snowsync sim` until `shutdown` is cancelled.
pub async fn run(args: SimArgs, shutdown: CancellationToken) -> Result<(), SimCliError> {
    let config = args.config()?;
    let handle = super::spawn(config.clone()).await?;
    let mut out = std::io::stdout().lock();
    for line in banner(&config, &handle.base_url()) {
        // A closed stdout must not stop the emulator.
        let _ = writeln!(out, "{line}");
    }
    let _ = out.flush();
    drop(out);
    shutdown.cancelled().await;
    handle.shutdown().await;
    Ok(())
}
