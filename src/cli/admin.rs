//! Operator reports and actions on findings and the outbox (`snowsync findings|outbox …`).
//!
//! Returns text for the terminal; never talks to ServiceNow.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr};

use crate::admin::retry;
use crate::domain::FindingStatus;
use crate::pipeline::Pipeline;
use crate::store::entity::outbox::Model as OutboxRow;
use crate::store::outbox::{OpKind, RowStatus};
use crate::store::{findings, outbox};

fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S").to_string()
}

fn one_line(text: &str, max: usize) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    match flat.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &flat[..cut]),
        None => flat,
    }
}

/// `outbox list`: one line per row, newest first.
pub async fn outbox_list(
    db: &impl ConnectionTrait,
    state: Option<RowStatus>,
    limit: u64,
) -> Result<String, DbErr> {
    let rows = outbox::list(db, state, limit).await?;
    let mut out = format!(
        "{:>8}  {:>8}  {:>4}  {:<16} {:<10} {:>8}  {:<19}  {}\n",
        "ID", "FINDING", "SEQ", "OP", "STATUS", "ATTEMPTS", "NEXT ATTEMPT", "LAST ERROR"
    );
    for r in &rows {
        let _ = writeln!(
            out,
            "{:>8}  {:>8}  {:>4}  {:<16} {:<10} {:>8}  {:<19}  {}",
            r.id,
            r.finding_id,
            r.seq,
            r.op,
            r.status,
            r.attempts,
            when(r.next_attempt_at),
            one_line(r.last_error.as_deref().unwrap_or("-"), 80)
        );
    }
    if rows.is_empty() {
        out.push_str("(no rows)\n");
    }
    Ok(out)
}

/// `outbox show ID`: every column, and the payload as it will be sent.
pub async fn outbox_show(db: &impl ConnectionTrait, id: i64) -> Result<Option<String>, DbErr> {
    Ok(outbox::get(db, id).await?.map(|r| describe_row(&r)))
}

fn describe_row(r: &OutboxRow) -> String {
    let payload =
        serde_json::to_string_pretty(&r.payload).unwrap_or_else(|_| r.payload.to_string());
    format!(
        "id:              {}\nfinding:         {}\nseq:             {}\nop:              {}\nstatus:          {}\nattempts:        {} ({} during outages, not counted against the limit)\nnext attempt:    {}\nlocked by:       {}\nlocked until:    {}\nmaybe applied:   {}\nlast error:      {}\ncreated:         {}\nupdated:         {}\npayload:\n{}\n",
        r.id,
        r.finding_id,
        r.seq,
        r.op,
        r.status,
        r.attempts,
        r.outage_attempts,
        when(r.next_attempt_at),
        r.locked_by.as_deref().unwrap_or("-"),
        r.locked_until.map(when).unwrap_or_else(|| "-".to_owned()),
        r.maybe_applied,
        r.last_error.as_deref().unwrap_or("-"),
        when(r.created_at),
        when(r.updated_at),
        payload
    )
}

/// `outbox retry ID…`: revives dead rows, their payloads rendered again from the current
/// mappings (the usual fix for a dead row is a mapping fix); reports each.
pub async fn outbox_retry(
    db: &impl ConnectionTrait,
    ids: &[i64],
    pipeline: &Pipeline,
) -> Result<(String, bool), DbErr> {
    let mut outcomes = Vec::new();
    for &id in ids {
        let outcome = retry::row(db, id, &pipeline.mappings, &pipeline.templates).await?;
        outcomes.push((id, outcome));
    }
    Ok(retry_report(&outcomes))
}

fn retry_report(outcomes: &[(i64, retry::Outcome)]) -> (String, bool) {
    let mut out = String::new();
    for (id, outcome) in outcomes {
        let _ = writeln!(out, "outbox row {id}: {outcome}");
    }
    (out, outcomes.iter().all(|(_, o)| o.revived()))
}

/// `outbox retry --state dead [--finding N] [--op OP]`: every dead row that matches,
/// revived as `outbox_retry` revives one, in delivery order.
pub async fn outbox_retry_dead(
    db: &impl ConnectionTrait,
    finding: Option<i64>,
    op: Option<OpKind>,
    pipeline: &Pipeline,
) -> Result<(String, bool), DbErr> {
    let outcomes = retry::dead(db, finding, op, &pipeline.mappings, &pipeline.templates).await?;
    if outcomes.is_empty() {
        return Ok(("no dead rows match\n".to_owned(), true));
    }
    Ok(retry_report(&outcomes))
}

/// `outbox purge --older-than D`: deletes delivered rows older than `age`.
pub async fn outbox_purge(
    db: &impl ConnectionTrait,
    age: std::time::Duration,
) -> Result<String, DbErr> {
    let before =
        Utc::now() - chrono::Duration::from_std(age).unwrap_or(chrono::Duration::days(3650));
    let n = outbox::purge_done(db, before).await?;
    Ok(format!(
        "purged {n} delivered row(s) last changed before {}\n",
        when(before)
    ))
}

/// `findings list`: one line per finding, newest first.
pub async fn findings_list(
    db: &impl ConnectionTrait,
    state: Option<FindingStatus>,
    limit: u64,
) -> Result<String, DbErr> {
    let rows = findings::list(db, state, limit).await?;
    let mut out = format!(
        "{:>8}  {:<10} {:>5}  {:<12} {:<19}  {:<30} {}\n",
        "ID", "STATUS", "SEEN", "TICKET", "LAST SEEN", "SUBJECT", "TITLE"
    );
    for f in &rows {
        let ticket = findings::link(db, f.id)
            .await?
            .and_then(|l| l.number)
            .unwrap_or_else(|| "-".to_owned());
        let _ = writeln!(
            out,
            "{:>8}  {:<10} {:>5}  {:<12} {:<19}  {:<30} {}",
            f.id,
            f.status,
            f.occurrences,
            ticket,
            when(f.last_seen),
            one_line(&f.subject, 30),
            one_line(&f.title, 60)
        );
    }
    if rows.is_empty() {
        out.push_str("(no findings)\n");
    }
    Ok(out)
}

/// `findings show ID`: the finding, its ticket, its outbox rows and its audit trail.
pub async fn findings_show(db: &impl ConnectionTrait, id: i64) -> Result<Option<String>, DbErr> {
    let Some(f) = findings::get(db, id).await? else {
        return Ok(None);
    };
    let mut out = format!(
        "id:           {}\nkey:          {}\nstatus:       {}{}\nsource:       {} ({})\ncheck:        {}\nsubject:      {}\ntitle:        {}\nseverity:     {}\noccurrences:  {}\nfirst seen:   {}\nlast seen:    {}\nrule:         {}\nprofile:      {}\n",
        f.id,
        f.finding_key,
        f.status,
        f.resolved_by
            .as_deref()
            .map(|by| format!(" (by {by})"))
            .unwrap_or_default(),
        f.source,
        f.kind,
        f.check_id,
        f.subject,
        f.title,
        f.severity,
        f.occurrences,
        when(f.first_seen),
        when(f.last_seen),
        f.rule.as_deref().unwrap_or("-"),
        f.profile.as_deref().unwrap_or("-"),
    );
    if let Some(decision) = &f.decision {
        let _ = writeln!(out, "decision:     {decision}");
    }
    match findings::link(db, f.id).await? {
        Some(l) => {
            let _ = writeln!(
                out,
                "ticket:       {} {} (sys_id {}, state {}, correlation {})",
                l.table_name,
                l.number.as_deref().unwrap_or("(not created yet)"),
                l.sys_id.as_deref().unwrap_or("-"),
                l.state.as_deref().unwrap_or("-"),
                l.correlation_id
            );
        }
        None => out.push_str("ticket:       -\n"),
    }
    out.push_str("outbox:\n");
    for r in outbox::of_finding(db, f.id).await? {
        let _ = writeln!(
            out,
            "  #{:<6} seq {:<3} {:<16} {:<10} attempts {:<3} {}",
            r.id,
            r.seq,
            r.op,
            r.status,
            r.attempts,
            one_line(r.last_error.as_deref().unwrap_or(""), 80)
        );
    }
    out.push_str("audit:\n");
    for a in findings::audit_trail(db, f.id).await? {
        let _ = writeln!(
            out,
            "  {}  {:<10} {} -> {}  by {}{}",
            when(a.at),
            a.event,
            a.from_status.as_deref().unwrap_or("(new)"),
            a.to_status,
            a.actor,
            a.detail
                .as_deref()
                .map(|d| format!(": {d}"))
                .unwrap_or_default()
        );
    }
    Ok(Some(out))
}
