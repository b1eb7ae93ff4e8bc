//! Applying one changed record: in one write transaction, the ticket link's new values, the
//! finding's transitions, their audit rows and their source notifications. A record whose
//! `sys_mod_count` is not above the last one applied changes nothing, so a change read twice
//! (inside the overlap, or by a push hint and a poll) is applied once.

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, DbErr};
use url::Url;

use super::notification::Notice;
use super::transition::{
    Decision, FindingNow, TicketValues, Transition, approval_transition, ticket_transitions,
};
use crate::domain::{Finding, FindingStatus};
use crate::mapping::{Mappings, Profile};
use crate::operation::{NotifyPayload, OpKind};
use crate::servicenow::Record;
use crate::store::entity::{finding, ticket_link};
use crate::store::findings::{self, TicketSnapshot};
use crate::store::{groups, outbox, sync};

/// One transition applied, for logs, metrics and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub finding_id: i64,
    pub number: Option<String>,
    pub transition: Transition,
    pub actor: String,
}

/// What applying needs; cheap to share.
pub struct Applier<'a> {
    pub db: &'a DatabaseConnection,
    pub mappings: &'a Mappings,
    pub instance: &'a Url,
}

impl Applier<'_> {
    /// Applies a changed record of a ticket table (`incident`, `sc_request`).
    pub async fn ticket(&self, table: &str, record: &Record) -> Result<Vec<Applied>, DbErr> {
        let Some(sys_id) = record.sys_id() else {
            return Ok(Vec::new());
        };
        let txn = crate::store::begin_write(self.db).await?;
        let link =
            sync::link_of_ticket(&txn, table, sys_id, record.str("correlation_id"), true).await?;
        let Some(link) = link else {
            return Ok(Vec::new());
        };
        if let (Some(seen), Some(known)) = (record.sys_mod_count(), link.sys_mod_count)
            && seen <= known
        {
            return Ok(Vec::new());
        }
        let Some(found) = findings::get(&txn, link.finding_id).await? else {
            return Ok(Vec::new());
        };
        let now = Utc::now();
        let snapshot = snapshot_of(record);
        sync::record_snapshot(&txn, &link, &snapshot, now).await?;
        let Some(profile) = self.profile_of(&found) else {
            txn.commit().await?;
            return Ok(Vec::new());
        };
        let before = values_of_link(&link, profile);
        let after = values_of_record(record, profile);
        let transitions = ticket_transitions(profile, &before, &after, finding_now(&found));
        let link = sync::link_of_ticket(&txn, table, sys_id, None, false)
            .await?
            .unwrap_or(link);
        let actor = record.sys_updated_by().unwrap_or("servicenow").to_owned();
        let at = record.updated_on().unwrap_or(now);
        let applied = self
            .transition_all(&txn, found, &link, &transitions, &actor, at, None, now)
            .await?;
        txn.commit().await?;
        Ok(applied)
    }

    /// Applies a changed `sysapproval_approver` record of one of our requests.
    pub async fn approval(
        &self,
        record: &Record,
        comment: Option<&str>,
    ) -> Result<Vec<Applied>, DbErr> {
        let (Some(request), Some(state)) = (record.reference("sysapproval"), record.str("state"))
        else {
            return Ok(Vec::new());
        };
        let txn = crate::store::begin_write(self.db).await?;
        let Some(link) = sync::link_of_ticket(&txn, "sc_request", request, None, true).await?
        else {
            return Ok(Vec::new());
        };
        let Some(found) = findings::get(&txn, link.finding_id).await? else {
            return Ok(Vec::new());
        };
        let Some(transition) = approval_transition(state, finding_now(&found)) else {
            return Ok(Vec::new());
        };
        let now = Utc::now();
        let actor = record.sys_updated_by().unwrap_or("servicenow").to_owned();
        let at = record.updated_on().unwrap_or(now);
        let applied = self
            .transition_all(&txn, found, &link, &[transition], &actor, at, comment, now)
            .await?;
        txn.commit().await?;
        Ok(applied)
    }

    fn profile_of(&self, found: &finding::Model) -> Option<&Profile> {
        let finding: Finding = serde_json::from_value(found.payload.clone()).ok()?;
        Some(crate::mapping::profile_for(self.mappings, &finding))
    }

    #[allow(clippy::too_many_arguments)]
    async fn transition_all(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        mut found: finding::Model,
        link: &ticket_link::Model,
        transitions: &[Transition],
        actor: &str,
        at: DateTime<Utc>,
        comment: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Applied>, DbErr> {
        let mut applied = Vec::new();
        for &transition in transitions {
            let from = found.status;
            let to = transition.status().unwrap_or(from);
            if to == FindingStatus::Open
                && from == FindingStatus::Resolved
                && findings::open_by_key(txn, &found.finding_key, true)
                    .await?
                    .is_some()
            {
                // A newer finding for the same key is open with a ticket of its own: this
                // one stays resolved, and its trail says why.
                findings::audit_row(
                    txn,
                    found.id,
                    &format!("ticket.{transition}"),
                    Some(from.as_str()),
                    from.as_str(),
                    &format!("servicenow:{actor}"),
                    Some("not reopened: a newer finding for the same key is open".to_owned()),
                    now,
                )
                .await?;
                continue;
            }
            let decision = match transition {
                Transition::Approved => Some(Decision::Approved.as_str()),
                Transition::Rejected => Some(Decision::Rejected.as_str()),
                _ => None,
            };
            sync::set_finding_from_ticket(txn, &found, to, decision, now).await?;
            if transition == Transition::Resolved {
                let reason = format!(
                    "not sent: {} was closed in ServiceNow by {actor}",
                    link.number.as_deref().unwrap_or("the ticket")
                );
                outbox::skip_pending_writes(txn, found.id, &reason, now).await?;
            }
            let change = Change {
                link,
                transition,
                actor,
                at,
                comment,
                now,
            };
            self.audit_and_notify(txn, &found, from, to, &change)
                .await?;
            if found.is_group && matches!(transition, Transition::Resolved | Transition::Escalated)
            {
                // Closing or escalating a grouped ticket does so for every subject it lists.
                for member in groups::open_members(txn, found.id).await? {
                    if member.status == to {
                        continue;
                    }
                    sync::set_finding_from_ticket(txn, &member, to, None, now).await?;
                    self.audit_and_notify(txn, &member, member.status, to, &change)
                        .await?;
                    applied.push(Applied {
                        finding_id: member.id,
                        number: link.number.clone(),
                        transition,
                        actor: actor.to_owned(),
                    });
                }
            }
            found.status = to;
            if let Some(decision) = decision {
                found.decision = Some(decision.to_owned());
            }
            applied.push(Applied {
                finding_id: found.id,
                number: link.number.clone(),
                transition,
                actor: actor.to_owned(),
            });
        }
        Ok(applied)
    }
}

/// A ticket change being applied, as the audit trail and the source are told of it.
struct Change<'a> {
    link: &'a ticket_link::Model,
    transition: Transition,
    actor: &'a str,
    at: DateTime<Utc>,
    comment: Option<&'a str>,
    now: DateTime<Utc>,
}

impl Applier<'_> {
    /// The audit row of `found` moving `from` → `to` on a ticket change, and the source's
    /// notification; a group is not known to the source, its members are notified instead.
    async fn audit_and_notify(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        found: &finding::Model,
        from: FindingStatus,
        to: FindingStatus,
        change: &Change<'_>,
    ) -> Result<(), DbErr> {
        let link = change.link;
        let detail = serde_json::json!({
            "ticket": link.number,
            "state": link.state,
            "approval": link.approval,
            "sys_mod_count": link.sys_mod_count,
            "comment": change.comment,
        });
        findings::audit_row(
            txn,
            found.id,
            &format!("ticket.{}", change.transition),
            Some(from.as_str()),
            to.as_str(),
            &format!("servicenow:{}", change.actor),
            Some(detail.to_string()),
            change.now,
        )
        .await?;
        if found.is_group {
            return Ok(());
        }
        let notice = Notice {
            transition: change.transition,
            finding: found,
            link,
            actor: change.actor,
            at: change.at,
            comment: change.comment,
        };
        let payload = NotifyPayload {
            source: found.source.clone(),
            body: notice.body(self.instance),
        };
        // Invariant: NotifyPayload is plain data; serialising cannot fail.
        let payload = serde_json::to_value(payload).unwrap_or_default();
        outbox::enqueue(txn, found.id, OpKind::NotifySource, payload, change.now).await?;
        Ok(())
    }
}

fn finding_now(found: &finding::Model) -> FindingNow {
    FindingNow {
        status: found.status,
        decision: found.decision.as_deref().and_then(Decision::parse),
    }
}

/// The fields a poll reads of a ticket table, for `profile`s' escalation conditions too.
pub fn ticket_fields(table: &str, mappings: &Mappings) -> Vec<String> {
    let mut fields: Vec<String> = [
        "sys_id",
        "number",
        "state",
        "priority",
        "assignment_group",
        "correlation_id",
        "sys_mod_count",
        "sys_updated_on",
        "sys_updated_by",
    ]
    .map(str::to_owned)
    .to_vec();
    if table == "sc_request" {
        fields.push("approval".to_owned());
    }
    for profile in mappings.profiles() {
        if let Some(condition) = &profile.escalate_when
            && !fields.contains(&condition.field)
        {
            fields.push(condition.field.clone());
        }
    }
    fields
}

/// The fields a poll reads of `sysapproval_approver`.
pub const APPROVAL_FIELDS: [&str; 6] = [
    "sys_id",
    "state",
    "sysapproval",
    "sys_mod_count",
    "sys_updated_on",
    "sys_updated_by",
];

fn snapshot_of(record: &Record) -> TicketSnapshot {
    TicketSnapshot {
        sys_id: record.sys_id().map(str::to_owned),
        number: record.number().map(str::to_owned),
        state: record.str("state").map(str::to_owned),
        approval: record.str("approval").map(str::to_owned),
        priority: record.str("priority").map(str::to_owned),
        assignment_group: record.reference("assignment_group").map(str::to_owned),
        sys_mod_count: record.sys_mod_count(),
        sys_updated_on: record.str("sys_updated_on").map(str::to_owned),
    }
}

fn values_of_link(link: &ticket_link::Model, _profile: &Profile) -> TicketValues {
    TicketValues {
        state: link.state.clone(),
        approval: link.approval.clone(),
        priority: link.priority.clone(),
        assignment_group: link.assignment_group.clone(),
        other: Vec::new(),
    }
}

fn values_of_record(record: &Record, profile: &Profile) -> TicketValues {
    let other = profile
        .escalate_when
        .iter()
        .filter_map(|c| {
            record
                .reference(&c.field)
                .map(|v| (c.field.clone(), v.to_owned()))
        })
        .collect();
    TicketValues {
        state: record.str("state").map(str::to_owned),
        approval: record.str("approval").map(str::to_owned),
        priority: record.str("priority").map(str::to_owned),
        assignment_group: record.reference("assignment_group").map(str::to_owned),
        other,
    }
}
