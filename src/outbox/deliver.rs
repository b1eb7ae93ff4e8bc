//! Delivery of outbox rows to ServiceNow (and source webhooks): the one place that
//! turns a stored payload into client calls and a client error into a `Delivery`.
//!
//! Exactly one ticket per finding: a create that may already have reached ServiceNow
//! (`maybe_applied`) looks its correlation id up before creating again, and every write goes
//! through a client fenced by the worker's lease.
//! A database error is always a retry, never a verdict on the row.

use chrono::Utc;
use sea_orm::{DatabaseConnection, DbErr};
use serde_json::{Map, Value};

use super::Delivery;
use super::notify::Notifier;
use crate::operation::{NotifyPayload, OpKind, TicketPayload};
use crate::servicenow::{Client, Disposition, Fence, Record, ReferenceError, ServiceNowError};
use crate::store::entity::outbox::Model as OutboxRow;
use crate::store::findings::{self, TicketSnapshot};

/// Fields read back after every write, to keep the ticket link current: our own write is
/// then the last known value, so the poller does not take it for a help-desk change.
pub const TICKET_FIELDS: [&str; 8] = [
    "sys_id",
    "number",
    "state",
    "approval",
    "priority",
    "assignment_group",
    "sys_mod_count",
    "sys_updated_on",
];

/// Delivers rows through the ServiceNow client, and notifications through the notifier.
pub struct ServiceNowDeliverer {
    pub db: DatabaseConnection,
    pub client: Client,
    pub notifier: Notifier,
    /// The most Batch API items in one call (`outbox.batch_size`).
    pub(super) batch_size: usize,
    /// The templates in force, for descriptions completed at delivery (`outbox::enrich`).
    templates: crate::pipeline::Live,
}

impl ServiceNowDeliverer {
    /// A deliverer sending at most `batch_size` items in one Batch API call, completing
    /// enriched descriptions with `templates`.
    pub fn new(
        db: DatabaseConnection,
        client: Client,
        notifier: Notifier,
        batch_size: usize,
        templates: crate::pipeline::Live,
    ) -> Self {
        Self {
            db,
            client,
            notifier,
            batch_size: batch_size.max(1),
            templates,
        }
    }
}

impl super::Deliver for ServiceNowDeliverer {
    async fn deliver(&self, row: &OutboxRow, fence: Fence) -> Delivery {
        let op = row.op;
        if op == OpKind::NotifySource {
            return match serde_json::from_value::<NotifyPayload>(row.payload.clone()) {
                Ok(p) => {
                    self.notifier
                        .notify(&p.source, &p.body, fence.as_ref())
                        .await
                }
                Err(e) => Delivery::Dead {
                    reason: format!("stored payload is not a notification: {e}"),
                },
            };
        }
        let payload = match serde_json::from_value::<TicketPayload>(row.payload.clone()) {
            Ok(p) => p,
            Err(e) => {
                return Delivery::Dead {
                    reason: format!("stored payload is not a ticket operation: {e}"),
                };
            }
        };
        let client = self.client.fenced(fence);
        outcome(match op {
            OpKind::CreateTicket => self.create(&client, row, &payload).await,
            OpKind::ApplyTags => self.tag(&client, row, &payload).await,
            _ => self.update(&client, row, &payload).await,
        })
    }

    async fn deliver_all(&self, rows: &[OutboxRow], fence: Fence) -> Vec<Delivery> {
        self.deliver_together(rows, fence).await
    }
}

/// The `Delivery` of a delivery step's result.
pub(super) fn outcome(result: Result<Delivery, Failure>) -> Delivery {
    match result {
        Ok(delivery) => delivery,
        Err(Failure::ServiceNow(err)) => from_error(&err),
        Err(Failure::Store(err)) => Delivery::Retry {
            after: None,
            reason: format!("cannot read the ticket link: {err}"),
            maybe_applied: false,
            unanswered: false,
        },
        Err(Failure::Reference(err)) => match err.classify() {
            Disposition::Outage { after } => Delivery::Outage {
                after,
                reason: err.to_string(),
                maybe_applied: false,
                unanswered: false,
            },
            Disposition::Retry { after } => Delivery::Retry {
                after,
                reason: err.to_string(),
                maybe_applied: false,
                unanswered: false,
            },
            Disposition::GiveUp => Delivery::Dead {
                reason: err.to_string(),
            },
        },
    }
}

/// Why a delivery step failed: a ServiceNow call, a name that resolves to no single record,
/// or the database (always transient: it says nothing about the row).
pub(super) enum Failure {
    ServiceNow(ServiceNowError),
    Reference(ReferenceError),
    Store(DbErr),
}

impl From<DbErr> for Failure {
    fn from(err: DbErr) -> Self {
        Self::Store(err)
    }
}

impl From<ServiceNowError> for Failure {
    fn from(err: ServiceNowError) -> Self {
        Self::ServiceNow(err)
    }
}

impl From<ReferenceError> for Failure {
    fn from(err: ReferenceError) -> Self {
        Self::Reference(err)
    }
}

/// Classifies a client error for the outbox: the client's `classify` decides.
pub fn from_error(err: &ServiceNowError) -> Delivery {
    match err.classify() {
        Disposition::Outage { after } => Delivery::Outage {
            after,
            reason: err.to_string(),
            maybe_applied: err.is_ambiguous_write(),
            unanswered: err.is_unanswered_write(),
        },
        Disposition::Retry { after } => Delivery::Retry {
            after,
            reason: err.to_string(),
            maybe_applied: err.is_ambiguous_write(),
            unanswered: err.is_unanswered_write(),
        },
        Disposition::GiveUp => Delivery::Dead {
            reason: err.to_string(),
        },
    }
}

impl ServiceNowDeliverer {
    pub(super) async fn fields_with_references(
        &self,
        payload: &TicketPayload,
    ) -> Result<Map<String, Value>, Failure> {
        let mut fields = payload.fields.clone();
        if let Some(enrichment) = &payload.enrichment {
            let templates = self.templates.current().templates.clone();
            if let Some(text) =
                super::enrich::enriched(&self.client, &templates, enrichment).await?
            {
                fields.insert(enrichment.field.clone(), Value::String(text));
            }
        }
        for (field, reference) in &payload.references {
            // Rows queued before intake learned to drop such names still carry them.
            if reference.optional
                && let Some(why) = reference.kind.unlookable(&reference.name)
            {
                tracing::info!(
                    field,
                    why,
                    "optional reference cannot be looked up; left empty"
                );
                continue;
            }
            match self
                .client
                .resolve_reference(reference.kind, &reference.name)
                .await
            {
                Ok(sys_id) => {
                    fields.insert(field.clone(), Value::String(sys_id));
                }
                Err(ReferenceError::NotFound { .. }) if reference.optional => {
                    tracing::info!(
                        field,
                        "optional reference not found in ServiceNow; left empty"
                    );
                }
                Err(err) => return Err(err.into()),
            }
        }
        if !payload.custom_fields.is_empty() {
            let lengths = self.client.string_lengths(&payload.table).await?;
            for name in &payload.custom_fields {
                if let (Some(Value::String(text)), Some(max)) =
                    (fields.get_mut(name), lengths.get(name))
                {
                    let kept = crate::template::cut(text, *max).len();
                    text.truncate(kept);
                }
            }
        }
        Ok(fields)
    }

    async fn create(
        &self,
        client: &Client,
        row: &OutboxRow,
        payload: &TicketPayload,
    ) -> Result<Delivery, Failure> {
        if row.maybe_applied && !payload.correlation_id.is_empty() {
            let found = client
                .find_by_correlation_id(&payload.table, &payload.correlation_id, &TICKET_FIELDS)
                .await?;
            if let Some(existing) = found.first() {
                tracing::info!(
                    outbox.id = row.id,
                    number = existing.number().unwrap_or("?"),
                    "create already applied; linking the existing ticket"
                );
                return Ok(self.save(row, existing).await);
            }
        }
        let fields = self.fields_with_references(payload).await?;
        let record = client
            .create(&payload.table, &fields, &TICKET_FIELDS)
            .await?;
        Ok(self.save(row, &record).await)
    }

    async fn update(
        &self,
        client: &Client,
        row: &OutboxRow,
        payload: &TicketPayload,
    ) -> Result<Delivery, Failure> {
        let Some(sys_id) = self.sys_id(row).await? else {
            return Ok(Delivery::Dead {
                reason: "the finding has no ticket to update".to_owned(),
            });
        };
        let fields = self.fields_with_references(payload).await?;
        let record = client
            .patch(&payload.table, &sys_id, &fields, &TICKET_FIELDS)
            .await?;
        Ok(self.save(row, &record).await)
    }

    async fn tag(
        &self,
        client: &Client,
        row: &OutboxRow,
        payload: &TicketPayload,
    ) -> Result<Delivery, Failure> {
        let Some(sys_id) = self.sys_id(row).await? else {
            return Ok(Delivery::Dead {
                reason: "the finding has no ticket to tag".to_owned(),
            });
        };
        // A first attempt right after the create cannot find tags of ours on the ticket.
        let known_untagged = row.attempts <= 1 && !row.maybe_applied;
        client
            .add_tags(&payload.table, &sys_id, &payload.tags, known_untagged)
            .await?;
        Ok(Delivery::Done)
    }

    /// The sys_id of the finding's ticket: `None` only when the database says there is none.
    async fn sys_id(&self, row: &OutboxRow) -> Result<Option<String>, DbErr> {
        Ok(findings::link(&self.db, row.finding_id)
            .await?
            .and_then(|l| l.sys_id))
    }

    /// Stores what ServiceNow returned. A failure here after a successful write is
    /// retried as possibly applied, so the next attempt finds the ticket instead of
    /// creating a second one.
    async fn save(&self, row: &OutboxRow, record: &Record) -> Delivery {
        let state = snapshot(record);
        match findings::save_ticket(&self.db, row.finding_id, &state, Utc::now()).await {
            Ok(()) => {
                log_ticket(row, record);
                Delivery::Done
            }
            Err(e) => unrecorded(&e),
        }
    }
}

/// The one info line of a ticket written and recorded for `row`.
pub(super) fn log_ticket(row: &OutboxRow, record: &Record) {
    tracing::info!(
        number = record.number().unwrap_or("?"),
        table = row
            .payload
            .get("table")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("?"),
        finding.id = row.finding_id,
        outbox.id = row.id,
        attempt = row.attempts,
        "{}",
        row.op.done()
    );
}

/// What snowsync keeps of a ticket it wrote, from the record ServiceNow returned.
pub(super) fn snapshot(record: &Record) -> TicketSnapshot {
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

/// A write that reached ServiceNow but could not be recorded is retried as possibly applied,
/// so the next attempt finds the ticket instead of creating a second one.
pub(super) fn unrecorded(err: &DbErr) -> Delivery {
    Delivery::Retry {
        after: None,
        reason: format!("ticket written but not recorded: {err}"),
        maybe_applied: true,
        unanswered: false,
    }
}
