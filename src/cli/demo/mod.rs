//! `snowsync demo`: the emulator and the service on a temporary SQLite database, sample
//! findings built from the seeds sent through the API, and the tickets they became.

use std::time::Duration;

use anyhow::{Context, bail};
use tokio_util::sync::CancellationToken;

mod round_trip;

pub(crate) use round_trip::help_desk;

use crate::config::Config;
use crate::service;
use crate::servicenow::Client;
use crate::sim::{self, SimConfig};
use crate::store::outbox::RowStatus;
use crate::store::{findings, outbox};

const KARSCH: &str = include_str!("karsch_ip_threat.json");
const OORT_EVENT: &str = include_str!("oort_inactive_users.json");
const APPROVAL: &str = include_str!("approval_request.json");

/// Runs the demo and prints what was created; with `keep`, leaves it running for the console.
pub async fn run(keep: bool) -> anyhow::Result<()> {
    let sim = sim::spawn(SimConfig::default())
        .await
        .context("starting the ServiceNow emulator")?;
    let dir = std::env::temp_dir().join(format!("snowsync-demo-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let result = demo(&sim, &dir, keep).await;
    sim.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// Settings for a local run: the emulator's accounts, an SQLite file in `dir`.
pub(crate) fn config(sim: &sim::SimHandle, dir: &std::path::Path, api_key: &str) -> Config {
    let database = format!("sqlite://{}?mode=rwc", dir.join("snowsync.db").display());
    Config::for_emulator(sim, &database, api_key)
}

async fn demo(sim: &sim::SimHandle, dir: &std::path::Path, keep: bool) -> anyhow::Result<()> {
    let api_key = format!("demo-{}", uuid::Uuid::new_v4().simple());
    let admin_key = format!("demo-admin-{}", uuid::Uuid::new_v4().simple());
    let mut config = config(sim, dir, &api_key);
    config.admin.api_keys = vec![secrecy::SecretString::from(admin_key.clone())];
    let receiver = round_trip::Receiver::start().await?;
    receiver.subscribe(&mut config, &["oort", "threatlocker"]);
    config.poller.enabled = true;
    config.poller.interval = Duration::from_secs(1);
    println!("ServiceNow emulator: {}", sim.base_url());
    let listener = tokio::net::TcpListener::bind(config.http.listen)
        .await
        .context("binding the API listener")?;
    // Kept, the demo stops on Ctrl-C or SIGTERM like `serve`.
    let shutdown = if keep {
        crate::shutdown::on_signal()
    } else {
        CancellationToken::new()
    };
    let running = service::start(&config, listener, shutdown).await?;
    println!("snowsync API:        {}\n", running.url());

    fill_directory(sim, &config).await?;
    let http = reqwest::Client::new();
    for (path, body, what) in [
        (
            "/v1/findings",
            KARSCH,
            "Oort \"IP Threat Detected\" for karsch.heuck@simubiz.com",
        ),
        (
            "/v1/sources/oort/events",
            OORT_EVENT,
            "Oort webhook event \"Inactive Users\" failing 3 users (one ticket for the check)",
        ),
        (
            "/v1/approval-requests",
            APPROVAL,
            "application approval request from dana.reyes@simubiz.com",
        ),
    ] {
        let response = http
            .post(format!("{}{path}", running.url()))
            .header("x-api-client-token", &api_key)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .with_context(|| format!("posting to {path}"))?;
        let status = response.status();
        let answer: serde_json::Value = response.json().await.unwrap_or_default();
        if status != reqwest::StatusCode::ACCEPTED {
            bail!("POST {path} answered {status}: {answer}");
        }
        println!("sent {what}: {status}, findings {}", answer["finding_ids"]);
    }

    wait_for_outbox(&running.db, Duration::from_secs(45)).await?;
    print_tickets(&running.db, &running.client).await?;
    let way_back = round_trip::run(&running, sim, &config, &receiver).await;
    if keep && way_back.is_ok() {
        let kept = leave_a_dead_row(sim, &running, &http, &api_key).await;
        if kept.is_ok() {
            println!("\nThe operator's console: {}/ui", running.url());
            println!("Sign in with the admin key {admin_key}");
            println!(
                "Its Outbox page shows one dead row, refused by the emulator (an injected 403, now lifted): retry it there."
            );
            println!("Ctrl-C stops the demo.");
            running.wait().await;
            return Ok(());
        }
        running.stop().await;
        return kept;
    }
    running.stop().await;
    way_back?;
    Ok(())
}

/// Two of the three people of the Oort event, as the instance's user directory knows them:
/// the grouped ticket lists them with the details filled from ServiceNow, the third as sent.
async fn fill_directory(
    sim: &sim::SimHandle,
    config: &crate::config::Config,
) -> anyhow::Result<()> {
    let desk = round_trip::help_desk(sim, config)?;
    let sys_id = async |table: &str, query: &str| -> anyhow::Result<String> {
        desk.query(table, query, &["sys_id"], 1)
            .await?
            .first()
            .and_then(|r| r.sys_id().map(str::to_owned))
            .with_context(|| format!("the emulator has no {table} record {query}"))
    };
    let finance = sys_id("cmn_department", "name=Finance").await?;
    let it = sys_id("cmn_department", "name=IT").await?;
    let san_diego = sys_id("cmn_location", "name=San Diego").await?;
    let manager = sys_id("sys_user", "user_name=david.loo").await?;
    for (user, name, phone, department) in [
        ("ana.souza", "Ana Souza", "+1 858 555 0131", &finance),
        ("li.wei", "Li Wei", "+1 858 555 0132", &it),
    ] {
        let fields: serde_json::Map<String, serde_json::Value> = serde_json::json!({
            "user_name": user,
            "name": name,
            "email": format!("{user}@simubiz.com"),
            "phone": phone,
            "department": department,
            "location": san_diego,
            "manager": manager,
        })
        .as_object()
        .cloned()
        .unwrap_or_default();
        desk.create("sys_user", &fields, &["sys_id"])
            .await
            .with_context(|| format!("adding {user} to the emulator's users"))?;
    }
    Ok(())
}

/// One more finding whose create the emulator refuses with 403, so its row goes dead; the
/// refusal is lifted afterwards, so a retry from the console delivers it.
async fn leave_a_dead_row(
    sim: &sim::SimHandle,
    running: &service::Running,
    http: &reqwest::Client,
    api_key: &str,
) -> anyhow::Result<()> {
    use crate::sim::{FaultRule, Faults};
    let mut finding: serde_json::Value = serde_json::from_str(KARSCH)?;
    finding["subject"]["login"] = "lena.vogel@simubiz.com".into();
    finding["subject"]["display_name"] = "Lena Vogel".into();
    sim.set_faults(
        Faults::none().with_rule(FaultRule::error(403, 1.0).on("POST", "/api/now/table/incident")),
    )
    .await;
    let response = http
        .post(format!("{}/v1/findings", running.url()))
        .header("x-api-client-token", api_key)
        .json(&finding)
        .send()
        .await
        .context("posting the finding to leave dead")?;
    if response.status() != reqwest::StatusCode::ACCEPTED {
        bail!("POST /v1/findings answered {}", response.status());
    }
    let waited = wait_for_outbox(&running.db, Duration::from_secs(45)).await;
    sim.set_faults(Faults::none()).await;
    waited
}

/// Waits until nothing owed to ServiceNow can make progress (delivered, or dead).
pub(crate) async fn wait_for_outbox(
    db: &sea_orm::DatabaseConnection,
    limit: Duration,
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let owed = outbox::owed(db).await?;
        if owed == 0 {
            let counts = outbox::counts(db).await?;
            if let Some((_, dead)) = counts.iter().find(|(s, _)| *s == RowStatus::Dead) {
                println!(
                    "warning: {dead} outbox row(s) are dead; see `snowsync outbox list --state dead`"
                );
            }
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            bail!("{owed} outbox row(s) still owed to ServiceNow after {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn priority_label(code: &str) -> String {
    let label = match code {
        "1" => "Critical",
        "2" => "High",
        "3" => "Moderate",
        "4" => "Low",
        "5" => "Planning",
        _ => return code.to_owned(),
    };
    format!("{code} - {label}")
}

async fn print_tickets(db: &sea_orm::DatabaseConnection, client: &Client) -> anyhow::Result<()> {
    let mut rows = findings::list(db, None, 100).await?;
    rows.reverse();
    let mut table = vec![
        [
            "NUMBER",
            "TABLE",
            "PRIORITY",
            "ASSIGNMENT GROUP",
            "TAGS",
            "SUBJECT",
        ]
        .map(str::to_owned),
    ];
    let mut digest = None;
    let mut enriched = None;
    for finding in &rows {
        let Some(link) = findings::link(db, finding.id).await? else {
            continue;
        };
        let Some(sys_id) = link.sys_id.clone() else {
            table.push(
                [
                    "(not created)",
                    &link.table_name,
                    "-",
                    "-",
                    "-",
                    &finding.subject,
                ]
                .map(str::to_owned),
            );
            continue;
        };
        let fields = ["number", "priority", "assignment_group", "description"];
        let Some(ticket) = client.get(&link.table_name, &sys_id, &fields).await? else {
            continue;
        };
        let group = match ticket.reference("assignment_group") {
            Some(id) if !id.is_empty() => client
                .get("sys_user_group", id, &["name"])
                .await?
                .and_then(|g| g.str("name").map(str::to_owned))
                .unwrap_or_else(|| id.to_owned()),
            _ => "-".to_owned(),
        };
        let mut tags = tags_of(client, &sys_id).await?;
        tags.sort();
        let subject = if finding.is_group {
            let members = crate::store::groups::open_members(db, finding.id).await?;
            format!(
                "{} users: {}",
                members.len(),
                members
                    .iter()
                    .map(|m| m.subject.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            finding.subject.clone()
        };
        table.push([
            ticket.number().unwrap_or("-").to_owned(),
            link.table_name.clone(),
            ticket
                .str("priority")
                .map(priority_label)
                .unwrap_or_else(|| "-".to_owned()),
            group,
            if tags.is_empty() {
                "-".to_owned()
            } else {
                tags.join(", ")
            },
            subject,
        ]);
        let described = || {
            ticket
                .str("description")
                .map(|d| (ticket.number().unwrap_or("-").to_owned(), d.to_owned()))
        };
        if digest.is_none() && finding.check_id == "ip-threat-detected" {
            digest = described();
        }
        if enriched.is_none() && finding.is_group {
            enriched = described();
        }
    }
    let widths: Vec<usize> = (0..6)
        .map(|c| {
            table
                .iter()
                .map(|r| r[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    println!();
    for row in &table {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        println!("{}", cells.join("  ").trim_end());
    }
    if let Some((number, description)) = digest {
        println!("\nDescription of {number}:\n{description}");
    }
    if let Some((number, description)) = enriched {
        println!(
            "\nDescription of {number}, one ticket for the check (Oort sent only the emails; the user details come from ServiceNow):\n{description}"
        );
    }
    Ok(())
}

async fn tags_of(client: &Client, sys_id: &str) -> anyhow::Result<Vec<String>> {
    let entries = client
        .query(
            "label_entry",
            &format!("table_key={sys_id}"),
            &["label"],
            50,
        )
        .await?;
    let mut names = Vec::new();
    for entry in entries {
        if let Some(label) = entry.reference("label")
            && let Some(record) = client.get("label", label, &["name"]).await?
            && let Some(name) = record.str("name")
        {
            names.push(name.to_owned());
        }
    }
    Ok(names)
}
