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
                Err(e) => Line::fail(format!("read access to {table}: {e}")),
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
    let who = match (client.auth_mode(), client.integration_user()) {
        (AuthMode::Basic, Some(u)) => format!("basic auth as {u}"),
        (AuthMode::OauthPassword, Some(u)) => format!("OAuth password grant as {u}"),
        (AuthMode::OauthClientCredentials, _) => "OAuth client credentials".to_owned(),
        (_, None) => "no user".to_owned(),
    };
    let failed = |e: ServiceNowError| {
        let what = if e.is_auth() {
            "authentication"
        } else {
            "connection"
        };
        Line::fail(format!("{what} to {} ({who}): {e}", client.instance_url()))
    };
    client.transport().authenticate().await.map_err(failed)?;
    // A request proves the credential: only a 401 refuses it, a 403 just hides sys_user.
    let probe = match client.integration_user() {
        Some(user) => super::wire::eq("user_name", user)
            .map_err(|m| failed(ServiceNowError::InvalidRequest(m)))?,
        None => String::new(),
    };
    match client
        .query_page("sys_user", &probe, &["user_name"], 1, 0, "check")
        .await
    {
        Ok(_) => Ok(Line::ok(format!(
            "authentication to {} ({who})",
            client.instance_url()
        ))),
        Err(e) if matches!(e.status(), Some(403 | 404)) => Ok(Line::ok(format!(
            "authentication to {} ({who}); sys_user is not readable: {e}",
            client.instance_url()
        ))),
        Err(e) => Err(failed(e)),
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
