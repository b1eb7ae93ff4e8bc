//! What `snowsync check` reports about the live instance, and the `snowsync fields` listing.
//!
//! Lines only: printing and exit codes belong to the command line. No line carries a secret.

use std::fmt;

use super::error::ServiceNowError;
use super::{Client, FieldInfo};
use crate::config::{AuthMode, ServiceNowConfig};

/// The label `check` writes to prove that tags can be written; it tags itself, nothing else.
pub const CHECK_LABEL: &str = "snowsync-check";

/// How a check line turned out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Ok,
    Warn,
    Fail,
}

/// One line of `check` output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub level: Level,
    pub text: String,
}

impl Line {
    fn ok(text: impl Into<String>) -> Self {
        Self {
            level: Level::Ok,
            text: text.into(),
        }
    }
    fn warn(text: impl Into<String>) -> Self {
        Self {
            level: Level::Warn,
            text: text.into(),
        }
    }
    fn fail(text: impl Into<String>) -> Self {
        Self {
            level: Level::Fail,
            text: text.into(),
        }
    }
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tag = match self.level {
            Level::Ok => "ok  ",
            Level::Warn => "warn",
            Level::Fail => "FAIL",
        };
        write!(f, "{tag} {}", self.text)
    }
}

/// Connects to the instance and reports, line by line: authentication, read access to
/// `incident` and `sc_request`, and whether tags can be written. Stops after a failure that
/// makes the rest meaningless (no connection, refused credentials).
pub async fn check(config: &ServiceNowConfig) -> Vec<Line> {
    let client = match Client::new(config) {
        Ok(c) => c,
        Err(e) => return vec![Line::fail(e.to_string())],
    };
    check_with(&client).await
}

/// [`check`] with a client already built.
pub async fn check_with(client: &Client) -> Vec<Line> {
    let mut lines = Vec::new();
    match authenticate(client).await {
        Ok(line) => lines.push(line),
        Err(line) => {
            lines.push(line);
            return lines;
        }
    }
    if let Some(line) = stored_token_ending(client).await {
        lines.push(line);
    }
    for table in ["incident", "sc_request"] {
        lines.push(
            match client
                .query_page(table, "", &["number"], 1, 0, "check")
                .await
            {
                Ok(page) => Line::ok(match page.total {
                    Some(n) => format!("read access to {table} ({n} records visible)"),
                    None => format!("read access to {table}"),
                }),
                Err(e) => {
                    let trouble = Trouble::of(&e);
                    Line::fail(format!(
                        "read access to {table}: {}: {e}{}",
                        trouble.as_str(),
                        trouble.hint()
                    ))
                }
            },
        );
    }
    lines.push(tags(client).await);
    lines.push(batch_api(client).await);
    lines
}

/// Whether the instance takes Batch API calls, proved with a call carrying one harmless read
/// (a record that does not exist). Without it delivery still works, one request per write.
async fn batch_api(client: &Client) -> Line {
    const NOBODY: &str = "00000000000000000000000000000000";
    let probe = match super::BatchRequest::get("check", "incident", NOBODY, &["sys_id"]) {
        Ok(probe) => probe,
        Err(e) => return Line::fail(format!("Batch API: {e}")),
    };
    match client.batch(vec![probe]).await {
        Ok(answers) => match answers.into_iter().next().map(|a| a.record()) {
            Some(Ok(_)) => Line::ok(
                "Batch API (POST /api/now/v1/batch): available; the outbox sends its writes together",
            ),
            Some(Err(e)) => Line::warn(format!(
                "Batch API: the call passed but its item failed ({e}); delivery falls back to one request per write when a batch is refused"
            )),
            None => Line::warn("Batch API: the call passed without answering its item"),
        },
        Err(e) if e.refuses_batch_api() => Line::warn(format!(
            "Batch API refused ({e}): delivery sends one request per write, which costs more of the instance's rate limit"
        )),
        Err(e) => Line::fail(format!("Batch API: {e}")),
    }
}

async fn authenticate(client: &Client) -> Result<Line, Line> {
    let who = client.principal();
    let instance = crate::redact::url(client.instance_url().as_str());
    let failed = |e: ServiceNowError| {
        let trouble = Trouble::of(&e);
        let hint = match (trouble, client.auth_mode()) {
            (Trouble::WrongCredentials, AuthMode::OauthJwtBearer) => {
                "; the OAuth application of servicenow.client_id needs a JWT verifier map holding the public key of servicenow.jwt_key_file under servicenow.jwt_key_id, and servicenow.jwt_subject must name an active user through the JWT provider's User field"
            }
            (Trouble::WrongCredentials, AuthMode::OauthPasswordBootstrap) => {
                "; check servicenow.username, client_id and client_secret; the stored refresh token signs in, or servicenow.password while none is usable"
            }
            _ => trouble.hint(),
        };
        Line::fail(format!(
            "{}: {instance} ({who}): {e}{hint}",
            trouble.as_str()
        ))
    };
    client.transport().authenticate().await.map_err(failed)?;
    // A request proves the credential: only a 401 refuses it, a 403 just hides sys_user.
    let probe = match client.integration_user() {
        Some(user) => super::wire::eq("user_name", user)
            .map_err(|m| failed(ServiceNowError::InvalidRequest(m)))?,
        None => String::new(),
    };
    let found = client
        .query_page("sys_user", &probe, &["user_name"], 1, 0, "check")
        .await;
    // Asked after the requests: it then says how this sign-in went, not how it would go.
    let who = match client.sign_in().await {
        Ok(Some(sign_in)) => format!("{who}; {sign_in}"),
        Ok(None) => who.to_owned(),
        Err(e) => return Err(failed(e)),
    };
    match found {
        Ok(_) => Ok(Line::ok(format!("authentication to {instance} ({who})"))),
        Err(e) if matches!(e.status(), Some(403 | 404)) => Ok(Line::ok(format!(
            "authentication to {instance} ({who}); sys_user is not readable: {e}"
        ))),
        Err(e) => Err(failed(e)),
    }
}

/// A warning while the stored refresh token is in the last tenth of its lifespan and no
/// password is configured to renew it: ServiceNow's refresh grant does not extend it.
async fn stored_token_ending(client: &Client) -> Option<Line> {
    match client.sign_in().await {
        Ok(Some(super::SignIn::StoredToken {
            ends,
            renewal_due: true,
            password_set: false,
            ..
        })) => Some(Line::warn(format!(
            "the stored refresh token's lifespan (servicenow.refresh_token_lifespan) ends about {}: ServiceNow does not renew it on refresh; set servicenow.password before then so snowsync signs in once more and stores a new one",
            ends.format("%Y-%m-%d %H:%M UTC")
        ))),
        _ => None,
    }
}

/// What kept `check` from the instance, told apart so the admin knows where to look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trouble {
    /// No connection or no answer in time: DNS, firewall, proxy, the instance down.
    Unreachable,
    /// The TLS handshake failed: a certificate not trusted (a private CA, an inspecting proxy).
    Tls,
    /// An HTML page instead of the API: a hibernating developer instance, maintenance.
    Hibernating,
    /// The credentials were refused (401, a refused token grant).
    WrongCredentials,
    /// Signed in, but refused the table: the integration user lacks a role (403).
    MissingRole,
    /// Anything else: the error says what.
    Other,
}

impl Trouble {
    pub fn of(e: &ServiceNowError) -> Self {
        match e {
            ServiceNowError::Transport { message, .. } => {
                let lower = message.to_ascii_lowercase();
                // rustls' own words for a handshake that failed, through reqwest's chain.
                if [
                    "certificate",
                    "tls",
                    "handshake",
                    "unknownissuer",
                    "corrupt message",
                    "invalidcontenttype",
                    "peer sent",
                    "alert",
                ]
                .iter()
                .any(|w| lower.contains(w))
                {
                    Self::Tls
                } else {
                    Self::Unreachable
                }
            }
            ServiceNowError::Timeout { .. } => Self::Unreachable,
            ServiceNowError::InstanceUnavailable { .. } => Self::Hibernating,
            e if e.is_auth() => Self::WrongCredentials,
            e if e.status() == Some(403) => Self::MissingRole,
            _ => Self::Other,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unreachable => "unreachable",
            Self::Tls => "TLS failure",
            Self::Hibernating => "instance hibernating or not serving the API",
            Self::WrongCredentials => "wrong credentials",
            Self::MissingRole => "missing role",
            Self::Other => "connection",
        }
    }

    fn hint(self) -> &'static str {
        match self {
            Self::Unreachable => {
                "; check servicenow.instance_url, DNS, the firewall and any proxy between here and the instance"
            }
            Self::Tls => {
                "; the TLS handshake failed: a certificate not trusted (for a private CA or a TLS-inspecting proxy set servicenow.ca_file) or something at that address that does not speak TLS"
            }
            Self::Hibernating => {
                "; a developer instance sleeps when unused: wake it from the developer portal, or wait for maintenance to end"
            }
            Self::WrongCredentials => {
                "; check servicenow.username and the password (or client_id and client_secret for OAuth)"
            }
            Self::MissingRole => {
                "; give the integration user the roles the README lists (itil for incident, read and write on sc_request)"
            }
            Self::Other => "",
        }
    }
}

/// Proves tags can be written: finds or creates the label [`CHECK_LABEL`] and writes a
/// `label_entry` tagging that label itself (created once, rewritten on later checks).
async fn tags(client: &Client) -> Line {
    let refused = |e: ServiceNowError| {
        Line::warn(format!(
            "tags cannot be written, tickets will be created without them ({e}); writing label_entry.table and table_key often needs extra roles"
        ))
    };
    let label = match client.label_id(CHECK_LABEL).await {
        Ok(id) => id,
        Err(e) => return refused(e),
    };
    match client.attach_label(&label, "label", &label).await {
        Ok((_, true)) => Line::ok(format!("tags can be written (label `{CHECK_LABEL}`)")),
        Ok((entry, false)) => {
            let mut fields = serde_json::Map::new();
            fields.insert("table".into(), "label".into());
            match client.patch("label_entry", &entry, &fields, &[]).await {
                Ok(_) => Line::ok(format!("tags can be written (label `{CHECK_LABEL}`)")),
                Err(e) => refused(e),
            }
        }
        Err(e) => refused(e),
    }
}

/// The `snowsync fields` listing: one line per field with type, max length and mandatory
/// flag, under a header; only String fields with `string_only`.
pub async fn fields(
    client: &Client,
    table: &str,
    string_only: bool,
) -> Result<Vec<String>, ServiceNowError> {
    let fields: Vec<FieldInfo> = client
        .fields(table)
        .await?
        .into_iter()
        .filter(|f| !string_only || f.is_string())
        .collect();
    let rows: Vec<[String; 5]> = fields
        .iter()
        .map(|f| {
            [
                f.name.clone(),
                match &f.reference {
                    Some(r) => format!("{} -> {r}", f.kind),
                    None => f.kind.clone(),
                },
                f.max_length.map(|m| m.to_string()).unwrap_or_default(),
                if f.mandatory { "yes" } else { "no" }.to_owned(),
                format!("{} ({})", f.label, f.defined_on),
            ]
        })
        .collect();
    let header = ["FIELD", "TYPE", "MAX", "MANDATORY", "LABEL (DEFINED ON)"].map(str::to_owned);
    let wn = rows.iter().map(|r| r[0].len()).max().unwrap_or(0).max(5);
    let wt = rows.iter().map(|r| r[1].len()).max().unwrap_or(0).max(4);
    let lines = std::iter::once(&header)
        .chain(&rows)
        .map(|[name, kind, max, mandatory, label]| {
            format!("{name:wn$}  {kind:wt$}  {max:>6}  {mandatory:9}  {label}")
                .trim_end()
                .to_owned()
        })
        .collect();
    Ok(lines)
}
