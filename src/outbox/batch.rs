//! Delivery of rows claimed together: their ticket writes go to ServiceNow in Batch API
//! calls (`POST /api/now/v1/batch`), each row settled by its own items' answers, so one
//! row's failure never fails its neighbours.
//!
//! What cannot ride in a batch is delivered on its own, alongside: a create that may
//! already have been applied (it looks its correlation id up first), tags on a ticket that
//! may carry some already (they are read first), and notifications. Where the instance
//! refuses the Batch API itself (400, 403, 404 or 405 on the call), the rows of that call
//! are delivered one request per write, and so is everything while the client keeps to
//! single requests (`Client::batch_usable`).

use std::collections::HashMap;

use chrono::Utc;
use futures_util::future::join_all;
use serde_json::Map;

use super::Delivery;
use super::deliver::{
    Failure, ServiceNowDeliverer, TICKET_FIELDS, from_error, log_ticket, outcome, snapshot,
    unrecorded,
};
use crate::operation::{OpKind, TicketPayload};
use crate::servicenow::{
    BatchRequest, BatchResponse, Client, Fence, Record, ReferenceKind, ServiceNowError,
};
use crate::store::entity::outbox::Model as OutboxRow;
use crate::store::findings::{self, TicketSnapshot};

/// What one row sends in a batch.
struct Planned {
    /// The row's index in the claimed rows.
    at: usize,
    write: Write,
    items: Vec<BatchRequest>,
}

#[derive(Clone, Copy)]
enum Write {
    /// A create or update: its one item returns the ticket, which is recorded.
    Ticket,
    /// Tag entries: done when every item is.
    Tags,
}

/// How a row is to be delivered.
enum Plan {
    Batched(Planned),
    Alone,
    Settled(Delivery),
}

impl ServiceNowDeliverer {
    /// Delivers `rows` (claimed together, each of a different finding); one outcome per
    /// row, in order.
    pub(super) async fn deliver_together(&self, rows: &[OutboxRow], fence: Fence) -> Vec<Delivery> {
        use super::Deliver as _;
        if rows.len() == 1 || !self.client.batch_usable() {
            return join_all(rows.iter().map(|row| self.deliver(row, fence.clone()))).await;
        }
        let client = self.client.fenced(fence.clone());
        let mut outcomes: Vec<Option<Delivery>> = vec![None; rows.len()];
        let mut batched = Vec::new();
        let mut alone = Vec::new();
        let sys_ids = self.ticket_sys_ids(rows).await;
        self.prefetch_references(rows).await;
        for (at, row) in rows.iter().enumerate() {
            match self.plan(&client, at, row, &sys_ids).await {
                Plan::Batched(planned) => batched.push(planned),
                Plan::Alone => alone.push(at),
                Plan::Settled(delivery) => outcomes[at] = Some(delivery),
            }
        }
        let (from_batches, from_alone) = tokio::join!(
            self.send_batches(&client, rows, batched, &fence),
            join_all(alone.iter().map(|&at| {
                let fence = fence.clone();
                async move { (at, self.deliver(&rows[at], fence).await) }
            })),
        );
        for (at, delivery) in from_batches.into_iter().chain(from_alone) {
            outcomes[at] = Some(delivery);
        }
        outcomes
            .into_iter()
            .map(|o| {
                o.unwrap_or_else(|| Delivery::Retry {
                    after: None,
                    reason: "the row was left out of its batch".to_owned(),
                    maybe_applied: false,
                    unanswered: false,
                })
            })
            .collect()
    }

    /// The ticket sys_ids of the rows' findings, read once for the batch. A database error
    /// leaves the map empty and is logged: the updates and tags then go alone, and read
    /// their link (and fail as a retry) on their own.
    async fn ticket_sys_ids(&self, rows: &[OutboxRow]) -> Option<HashMap<i64, String>> {
        let ids: Vec<i64> = rows
            .iter()
            .filter(|r| r.op != OpKind::CreateTicket && r.op != OpKind::NotifySource)
            .map(|r| r.finding_id)
            .collect();
        match findings::ticket_sys_ids(&self.db, &ids).await {
            Ok(map) => Some(map),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the ticket links of a batch");
                None
            }
        }
    }

    /// Looks the ticket writes' references up together (`Client::prefetch_references`), so
    /// planning finds them cached: callers of many findings cost one request, not one each.
    async fn prefetch_references(&self, rows: &[OutboxRow]) {
        let wanted: Vec<(ReferenceKind, String)> = rows
            .iter()
            .filter(|r| !matches!(r.op, OpKind::NotifySource | OpKind::ApplyTags))
            .filter_map(|r| serde_json::from_value::<TicketPayload>(r.payload.clone()).ok())
            .flat_map(|p| {
                // The subject (or a grouped ticket's listed members) whose details enrich
                // the digest is looked up like a caller.
                let subject = p.enrichment.into_iter().flat_map(|e| {
                    std::iter::once(e.user)
                        .filter(|u| !u.is_empty())
                        .chain(e.members)
                        .map(|u| (ReferenceKind::User, u))
                });
                p.references
                    .into_values()
                    .filter(|r| r.kind.unlookable(&r.name).is_none())
                    .map(|r| (r.kind, r.name))
                    .chain(subject)
            })
            .collect();
        self.client.prefetch_references(&wanted).await;
    }

    async fn plan(
        &self,
        client: &Client,
        at: usize,
        row: &OutboxRow,
        sys_ids: &Option<HashMap<i64, String>>,
    ) -> Plan {
        let alone = match row.op {
            OpKind::NotifySource => return Plan::Alone,
            OpKind::CreateTicket => row.maybe_applied,
            // A first attempt right after the create cannot find tags of ours on the ticket;
            // a later one reads the ticket's tags first, which a batch cannot.
            OpKind::ApplyTags => row.attempts > 1 || row.maybe_applied,
            _ => false,
        };
        let Some(sys_ids) = sys_ids else {
            return Plan::Alone;
        };
        if alone {
            return Plan::Alone;
        }
        let payload = match serde_json::from_value::<TicketPayload>(row.payload.clone()) {
            Ok(p) => p,
            Err(e) => {
                return Plan::Settled(Delivery::Dead {
                    reason: format!("stored payload is not a ticket operation: {e}"),
                });
            }
        };
        let id = format!("r{}", row.id);
        let planned = match row.op {
            OpKind::CreateTicket => self
                .ticket_item(id, &payload, None)
                .await
                .map(|item| (Write::Ticket, vec![item])),
            OpKind::ApplyTags => {
                let Some(sys_id) = sys_ids.get(&row.finding_id) else {
                    return Plan::Settled(Delivery::Dead {
                        reason: "the finding has no ticket to tag".to_owned(),
                    });
                };
                tag_items(client, &id, &payload, sys_id)
                    .await
                    .map(|items| (Write::Tags, items))
            }
            _ => {
                let Some(sys_id) = sys_ids.get(&row.finding_id) else {
                    return Plan::Settled(Delivery::Dead {
                        reason: "the finding has no ticket to update".to_owned(),
                    });
                };
                self.ticket_item(id, &payload, Some(sys_id))
                    .await
                    .map(|item| (Write::Ticket, vec![item]))
            }
        };
        match planned {
            Ok((_, items)) if items.is_empty() => Plan::Settled(Delivery::Done),
            Ok((write, items)) => Plan::Batched(Planned { at, write, items }),
            Err(failure) => Plan::Settled(outcome(Err(failure))),
        }
    }

    /// The create of the payload's ticket, or the update of `sys_id`, references resolved.
    async fn ticket_item(
        &self,
        id: String,
        payload: &TicketPayload,
        sys_id: Option<&str>,
    ) -> Result<BatchRequest, Failure> {
        let fields = self.fields_with_references(payload).await?;
        let item = match sys_id {
            None => BatchRequest::create(id, &payload.table, &fields, &TICKET_FIELDS)?,
            Some(sys_id) => {
                BatchRequest::patch(id, &payload.table, sys_id, &fields, &TICKET_FIELDS)?
            }
        };
        Ok(item)
    }

    /// Sends the planned rows in calls of at most `batch_size` items (a row's items stay in
    /// one call) and settles each row by its items.
    async fn send_batches(
        &self,
        client: &Client,
        rows: &[OutboxRow],
        planned: Vec<Planned>,
        fence: &Fence,
    ) -> Vec<(usize, Delivery)> {
        let mut calls: Vec<Vec<Planned>> = Vec::new();
        let mut items_in_last = 0;
        for p in planned {
            match calls.last_mut() {
                Some(call) if items_in_last + p.items.len() <= self.batch_size => {
                    items_in_last += p.items.len();
                    call.push(p);
                }
                _ => {
                    items_in_last = p.items.len();
                    calls.push(vec![p]);
                }
            }
        }
        let settled = join_all(
            calls
                .into_iter()
                .map(|call| self.send_batch(client, rows, call, fence)),
        )
        .await;
        settled.into_iter().flatten().collect()
    }

    async fn send_batch(
        &self,
        client: &Client,
        rows: &[OutboxRow],
        call: Vec<Planned>,
        fence: &Fence,
    ) -> Vec<(usize, Delivery)> {
        // The instance may have refused a batch since these rows were planned.
        if !client.batch_usable() {
            return self.each_alone(rows, &call, fence).await;
        }
        let requests: Vec<BatchRequest> = call.iter().flat_map(|p| p.items.clone()).collect();
        let responses = match client.batch(requests).await {
            Ok(responses) => responses,
            // Nothing of the call ran: the rows go one request per write.
            Err(err) if err.refuses_batch_api() => {
                return self.each_alone(rows, &call, fence).await;
            }
            Err(err) => {
                let delivery = from_error(&err);
                return call.iter().map(|p| (p.at, delivery.clone())).collect();
            }
        };
        let mut by_id: HashMap<String, BatchResponse> =
            responses.into_iter().map(|r| (r.id.clone(), r)).collect();
        let mut settled = Vec::with_capacity(call.len());
        let mut tickets: Vec<(usize, i64, TicketSnapshot, Record)> = Vec::new();
        for p in &call {
            let mut answer = Ok(None);
            for item in &p.items {
                let result = by_id
                    .remove(&item.id)
                    .map(|r| r.record())
                    .unwrap_or_else(|| {
                        Err(ServiceNowError::Unserviced {
                            id: item.id.clone(),
                        })
                    });
                match result {
                    Ok(record) => answer = Ok(record),
                    Err(err) => {
                        answer = Err(err);
                        break;
                    }
                }
            }
            match (p.write, answer) {
                (_, Err(err)) => settled.push((p.at, from_error(&err))),
                (Write::Tags, Ok(_)) => settled.push((p.at, Delivery::Done)),
                (Write::Ticket, Ok(Some(record))) => {
                    tickets.push((p.at, rows[p.at].finding_id, snapshot(&record), record))
                }
                (Write::Ticket, Ok(None)) => settled.push((
                    p.at,
                    Delivery::Retry {
                        after: None,
                        reason: "the batch item returned no record".to_owned(),
                        maybe_applied: true,
                        unanswered: false,
                    },
                )),
            }
        }
        let records: Vec<(i64, TicketSnapshot)> = tickets
            .iter()
            .map(|(_, finding, snap, _)| (*finding, snap.clone()))
            .collect();
        let saved = findings::save_tickets(&self.db, &records, Utc::now()).await;
        for (at, _, _, record) in tickets {
            settled.push((
                at,
                match &saved {
                    Ok(()) => {
                        log_ticket(&rows[at], &record);
                        Delivery::Done
                    }
                    Err(e) => unrecorded(e),
                },
            ));
        }
        settled
    }
}

impl ServiceNowDeliverer {
    /// Delivers the planned rows each on its own, all at once.
    async fn each_alone(
        &self,
        rows: &[OutboxRow],
        call: &[Planned],
        fence: &Fence,
    ) -> Vec<(usize, Delivery)> {
        use super::Deliver as _;
        join_all(call.iter().map(|p| {
            let fence = fence.clone();
            async move { (p.at, self.deliver(&rows[p.at], fence).await) }
        }))
        .await
    }
}

/// The `label_entry` creates that tag the ticket `sys_id` with the payload's tags: one per
/// distinct label, the labels found or created by name first (cached).
async fn tag_items(
    client: &Client,
    id: &str,
    payload: &TicketPayload,
    sys_id: &str,
) -> Result<Vec<BatchRequest>, Failure> {
    let mut labels: Vec<String> = Vec::new();
    for tag in &payload.tags {
        let label = client.label_id(tag).await?;
        if !labels.contains(&label) {
            labels.push(label);
        }
    }
    let mut items = Vec::with_capacity(labels.len());
    for (n, label) in labels.iter().enumerate() {
        let mut fields = Map::new();
        fields.insert("label".into(), label.as_str().into());
        fields.insert("table".into(), payload.table.as_str().into());
        fields.insert("table_key".into(), sys_id.into());
        items.push(BatchRequest::create(
            format!("{id}.{n}"),
            "label_entry",
            &fields,
            &["sys_id"],
        )?);
    }
    Ok(items)
}
