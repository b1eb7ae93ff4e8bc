//! The way back, in the demo: the emulator's help desk resolves one incident, puts another on
//! hold and approves the Service Request; the poller brings each change to its finding, and
//! the source notifications reach a local webhook receiver that verifies their signatures,
//! as a source's receiver would.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use secrecy::SecretString;
use serde_json::{Map, Value};

use crate::config::{AuthMode, Config};
use crate::outbox::notify;
use crate::service::Running;
use crate::servicenow::Client;
use crate::sim::SimHandle;
use crate::store::findings;

/// A notification as the receiver got it, and whether its signature held.
struct Received {
    body: Value,
    verified: bool,
}

/// A source's webhook receiver on loopback, verifying each notification's signature and
/// timestamp exactly as the README tells a source to.
pub(super) struct Receiver {
    pub url: url::Url,
    secret: SecretString,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    pub async fn start() -> anyhow::Result<Self> {
        let secret = format!("demo-{}", uuid::Uuid::new_v4().simple());
        let received = Arc::new(Mutex::new(Vec::new()));
        let state = (secret.clone(), received.clone());
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the demo webhook receiver")?;
        let url = format!("http://{}/hook", listener.local_addr()?).parse()?;
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Self {
            url,
            secret: SecretString::from(secret),
            received,
        })
    }

    /// Sends every source's notifications here, signed with the receiver's secret.
    pub fn subscribe(&self, config: &mut Config, sources: &[&str]) {
        for source in sources {
            config.sources.insert(
                (*source).to_owned(),
                crate::config::SourceConfig {
                    webhook_url: Some(self.url.clone()),
                    hmac_secret: Some(self.secret.clone()),
                },
            );
        }
    }

    fn count(&self) -> usize {
        self.received.lock().map(|r| r.len()).unwrap_or(0)
    }
}

async fn receive(
    State((secret, received)): State<(String, Arc<Mutex<Vec<Received>>>)>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let verified = match (
        header("x-snowsync-timestamp").and_then(|t| t.parse::<i64>().ok()),
        header("x-snowsync-signature"),
    ) {
        (Some(timestamp), Some(signature)) => notify::verify(
            secret.as_bytes(),
            timestamp,
            &body,
            signature,
            chrono::Utc::now().timestamp(),
            Duration::from_secs(300),
        ),
        _ => false,
    };
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if let Ok(mut all) = received.lock() {
        all.push(Received { body, verified });
    }
    StatusCode::OK
}

/// Works three tickets as the help desk, waits for their findings and notifications, and
/// prints both.
pub(super) async fn run(
    running: &Running,
    sim: &SimHandle,
    config: &Config,
    receiver: &Receiver,
) -> anyhow::Result<()> {
    let desk = help_desk(sim, config)?;
    let db = &running.db;
    let rows = findings::list(db, None, 100).await?;
    let link_of = |check: &'static str| {
        let rows = &rows;
        async move {
            for f in rows.iter().filter(|f| f.check_id == check) {
                if let Some(link) = findings::link(db, f.id).await?
                    && let Some(sys_id) = link.sys_id
                {
                    return anyhow::Ok((f.id, link.table_name, sys_id, link.number));
                }
            }
            bail!("no ticket for a finding of check {check}")
        }
    };
    let (threat, _, threat_ticket, threat_number) = link_of("ip-threat-detected").await?;
    let (inactive, _, inactive_ticket, inactive_number) = link_of("inactive-users").await?;
    let (approval, _, request, request_number) = link_of("approval-request").await?;
    let number = |n: &Option<String>| n.clone().unwrap_or_else(|| "?".to_owned());

    println!("\nThe help desk works the tickets in ServiceNow:");
    let fields = |pairs: &[(&str, &str)]| -> Map<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned())))
            .collect()
    };
    desk.patch(
        "incident",
        &threat_ticket,
        &fields(&[
            ("state", "6"),
            ("close_code", "Solution provided"),
            ("close_notes", "Sessions revoked and password reset."),
        ]),
        &[],
    )
    .await?;
    println!("  resolved {}", number(&threat_number));
    desk.patch(
        "incident",
        &inactive_ticket,
        &fields(&[("state", "3"), ("hold_reason", "1")]),
        &[],
    )
    .await?;
    println!("  put {} on hold (escalation)", number(&inactive_number));
    let approvers = desk
        .query(
            "sysapproval_approver",
            &format!("sysapproval={request}"),
            &["sys_id"],
            10,
        )
        .await?;
    let approver = approvers
        .first()
        .and_then(|a| a.sys_id())
        .context("the request has no approval to decide")?;
    desk.patch(
        "sysapproval_approver",
        approver,
        &fields(&[
            ("state", "approved"),
            ("comments", "Approved: the tool is on the allow list."),
        ]),
        &[],
    )
    .await?;
    println!("  approved {}", number(&request_number));

    // The grouped ticket's escalation reaches the source once per user it lists.
    let members: Vec<i64> = crate::store::groups::open_members(db, inactive)
        .await?
        .iter()
        .map(|m| m.id)
        .collect();
    let expected = 2 + members.len();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while receiver.count() < expected {
        if tokio::time::Instant::now() > deadline {
            bail!(
                "{} of {expected} source notifications arrived within a minute",
                receiver.count()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    println!("\nFindings after the next poll:");
    let ids = [threat, inactive]
        .into_iter()
        .chain(members)
        .chain([approval]);
    for id in ids {
        if let Some(f) = findings::get(db, id).await? {
            let what = if f.is_group {
                format!("(the group of {})", f.title)
            } else {
                f.subject.clone()
            };
            println!(
                "  finding {:<3} {:<26} {:<10} {}{}",
                f.id,
                what,
                f.status.as_str(),
                f.resolved_by
                    .as_deref()
                    .map(|by| format!("by {by}"))
                    .unwrap_or_default(),
                f.decision
                    .as_deref()
                    .map(|d| format!("decision {d}"))
                    .unwrap_or_default(),
            );
        }
    }
    println!(
        "\nNotifications received by the source's webhook ({}):",
        receiver.url
    );
    let received = receiver
        .received
        .lock()
        .map_err(|_| anyhow::anyhow!("lock"))?;
    for r in received.iter() {
        let b = &r.body;
        let comment = b["comment"]
            .as_str()
            .map(|c| format!(", \"{c}\""))
            .unwrap_or_default();
        println!(
            "  {:<18} {:<11} by {}{}  signature {}",
            b["event"].as_str().unwrap_or("?"),
            b["ticket"]["number"].as_str().unwrap_or("?"),
            b["actor"].as_str().unwrap_or("?"),
            comment,
            if r.verified { "verified" } else { "INVALID" },
        );
    }
    Ok(())
}

/// A client signed in as the emulator's help-desk user, as a person working tickets.
pub(crate) fn help_desk(sim: &SimHandle, config: &Config) -> anyhow::Result<Client> {
    let (user, password) = sim.help_desk_credentials();
    let mut sn = config.servicenow.clone();
    sn.auth = AuthMode::Basic;
    sn.username = Some(user);
    sn.password = Some(SecretString::from(password));
    Ok(Client::new(&sn)?)
}
