//! The operations the outbox carries and their stored payloads: what intake writes and
//! delivery sends, defined here so that neither reaches into the other.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::domain::{ReferenceKind, spelled};

spelled! {
    /// An outbox row's operation, as stored in `outbox.op`.
    #[derive(sea_orm::DeriveValueType)]
    #[sea_orm(value_type = "String")]
    pub enum OpKind("operation") {
        CreateTicket = "create_ticket",
        UpdateTicket = "update_ticket",
        CloseTicket = "close_ticket",
        EscalateTicket = "escalate_ticket",
        ReopenTicket = "reopen_ticket",
        ApplyTags = "apply_tags",
        NotifySource = "notify_source",
    }
}

impl OpKind {
    /// What a delivered row did to its ticket, for the log line an SRE reads.
    pub fn done(self) -> &'static str {
        match self {
            Self::CreateTicket => "ticket created",
            Self::UpdateTicket => "ticket updated",
            Self::CloseTicket => "ticket closed",
            Self::EscalateTicket => "ticket escalated",
            Self::ReopenTicket => "ticket reopened",
            Self::ApplyTags => "ticket tagged",
            Self::NotifySource => "source notified",
        }
    }

    /// Whether a dead row of this kind holds back the finding's later rows.
    /// Tags and notifications are side effects: the ticket must not wait on them.
    pub fn blocks_successors_when_dead(self) -> bool {
        !matches!(self, Self::ApplyTags | Self::NotifySource)
    }
}

/// A reference field given by name, resolved to a sys_id just before sending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedReference {
    pub kind: ReferenceKind,
    pub name: String,
    /// Sent only when the name resolves: a finding's subject (the caller) need not be a
    /// ServiceNow user, and the ticket must not wait on that.
    #[serde(default)]
    pub optional: bool,
}

/// The payload of a ticket operation as stored in `outbox.payload`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TicketPayload {
    pub table: String,
    #[serde(default)]
    pub correlation_id: String,
    #[serde(default)]
    pub fields: Map<String, Value>,
    #[serde(default)]
    pub references: BTreeMap<String, NamedReference>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// The fields the mapping's custom field mappings fill: delivery cuts each to the
    /// instance's `max_length` from `sys_dictionary`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custom_fields: Vec<String>,
    /// The description to render again at delivery with the subject's details from the
    /// instance (`enrich_from_instance`); rows without it are sent as rendered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrichment: Option<Enrichment>,
}

/// What delivery needs to fill the digest's user details from sys_user: whom to look up,
/// and the template and data the description was rendered with at intake.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Enrichment {
    /// The user name or email the subject is looked up by (as a caller reference is);
    /// empty on a grouped ticket.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub user: String,
    /// On a grouped ticket: whom each of the first entries of the data's `members` (those
    /// listed when it was rendered at intake) is looked up by, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
    /// The field the template fills, and the most characters it may hold.
    pub field: String,
    pub limit: Option<usize>,
    /// The template's name, and the data it saw at intake.
    pub template: String,
    pub context: Value,
}

/// The payload of a `notify_source` row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotifyPayload {
    pub source: String,
    pub body: Value,
}
