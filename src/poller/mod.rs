//! The poller: ticket state back from ServiceNow. One instance polls at a time (the
//! `poller` lease); each cycle reads, per managed table, the records of ours changed since
//! the table's watermark minus `poller.overlap` in one paged query, applies each in its own
//! transaction (`apply`), and then moves the watermark, fenced by the lease, so a stale
//! poller never moves it. Push hints from a business rule name one record, which is read
//! again and applied the same way; polling stays the safety net.

pub mod apply;
pub mod notification;
pub mod transition;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, DbErr};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::config::PollerConfig;
use crate::mapping::{Mappings, Table};
use crate::servicenow::{APPROVALS_TABLE, ChangeScope, Client, Journal, Record, ServiceNowError};
use crate::store::sync;
use apply::{APPROVAL_FIELDS, Applied, Applier, ticket_fields};

/// The lease that elects the one polling instance.
pub const LEASE_NAME: &str = "poller";

/// A push hint: ServiceNow says this record changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hint {
    pub table: String,
    pub sys_id: String,
}

/// Hands push hints to the running poller. Full queue: the hint is dropped, since the next
/// poll reads the change anyway.
#[derive(Debug, Clone)]
pub struct Hints(mpsc::Sender<Hint>);

impl Hints {
    /// Queues `hint`; `false` when the queue is full or the poller stopped.
    pub fn send(&self, hint: Hint) -> bool {
        self.0.try_send(hint).is_ok()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error(transparent)]
    ServiceNow(#[from] ServiceNowError),
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// Everything the poller works with.
pub struct Poller {
    pub db: DatabaseConnection,
    pub client: Client,
    /// The mappings in force (closed states, escalation conditions); a reload replaces
    /// them for the next cycle.
    pub pipeline: crate::pipeline::Live,
    pub config: PollerConfig,
    /// This instance's name in the lease.
    pub holder: String,
    /// Woken after a commit that enqueued notifications.
    pub outbox_wake: Arc<Notify>,
}

impl Poller {
    /// The lease lasts three intervals: a live poller renews it every cycle, and a dead
    /// one's lease runs out within three intervals.
    fn lease_ttl(&self) -> Duration {
        self.config.interval * 3
    }

    fn instance(&self) -> &Url {
        self.client.instance_url()
    }

    fn mappings(&self) -> Arc<Mappings> {
        self.pipeline.current().mappings.clone()
    }

    fn applier<'a>(&'a self, mappings: &'a Mappings) -> Applier<'a> {
        Applier {
            db: &self.db,
            mappings,
            instance: self.instance(),
        }
    }

    /// Starts polling every `config.interval` until `shutdown`; returns the task and the
    /// sender of push hints.
    pub fn start(self, shutdown: CancellationToken) -> (JoinHandle<()>, Hints) {
        let (tx, rx) = mpsc::channel(1024);
        let task = tokio::spawn(self.run(rx, shutdown));
        (task, Hints(tx))
    }

    async fn run(self, mut hints: mpsc::Receiver<Hint>, shutdown: CancellationToken) {
        let mut ticks = tokio::time::interval(self.config.interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = ticks.tick() => {
                    if let Err(e) = self.cycle().await {
                        metrics::counter!("poller_errors_total").increment(1);
                        tracing::warn!(error = %e, "poll failed; the next cycle tries again");
                    }
                }
                Some(hint) = hints.recv() => {
                    if let Err(e) = self.hint(&hint).await {
                        tracing::warn!(table = %hint.table, sys_id = %hint.sys_id, error = %e, "push hint not applied; the next poll reads the change");
                    }
                }
            }
        }
        tracing::debug!("poller stopped");
    }

    /// The tables a cycle reads: approvals first, so a decision is applied from the approver's
    /// record (who, comment) before the request's own `approval` field shows it.
    fn scopes(&self) -> Vec<ChangeScope<'static>> {
        let tables = self.mappings().tables();
        let mut scopes = Vec::new();
        if tables.contains(&Table::ScRequest) {
            scopes.push(ChangeScope::Approvals);
        }
        for table in tables {
            scopes.push(ChangeScope::Tickets(table.as_str()));
        }
        scopes
    }

    /// One poll of every managed table, if this instance holds the lease. Returns what was
    /// applied; `None` when another instance polls.
    pub async fn cycle(&self) -> Result<Option<Vec<Applied>>, PollError> {
        let Some(token) = sync::hold_lease(
            &self.db,
            LEASE_NAME,
            &self.holder,
            self.lease_ttl(),
            Utc::now(),
        )
        .await?
        else {
            return Ok(None);
        };
        let mut applied = Vec::new();
        for scope in self.scopes() {
            match self.poll(scope, token).await {
                Ok(Some(mut more)) => applied.append(&mut more),
                Ok(None) => break,
                // A table the instance lacks (its plugin not installed) holds none of our
                // tickets; the other tables are still polled, and `check` names the profile.
                Err(PollError::ServiceNow(e)) if e.is_unknown_table() => {
                    metrics::counter!("poller_errors_total").increment(1);
                    tracing::warn!(table = scope.table(), error = %e, "table not on the instance; not polled");
                }
                Err(e) => return Err(e),
            }
        }
        if !applied.is_empty() {
            self.outbox_wake.notify_one();
        }
        metrics::gauge!("poller_last_success_timestamp_seconds").set(Utc::now().timestamp() as f64);
        Ok(Some(applied))
    }

    /// Polls one table. `None`: the lease was lost before the watermark moved.
    async fn poll(
        &self,
        scope: ChangeScope<'_>,
        token: i64,
    ) -> Result<Option<Vec<Applied>>, PollError> {
        let table = scope.table().to_owned();
        let since = sync::watermark(&self.db, &table)
            .await?
            .map(|w| w - chrono::Duration::from_std(self.config.overlap).unwrap_or_default());
        let fields = match scope {
            ChangeScope::Tickets(t) => ticket_fields(t, &self.mappings()),
            ChangeScope::Approvals => APPROVAL_FIELDS.map(str::to_owned).to_vec(),
        };
        let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
        let records = self
            .client
            .changes(scope, since, &fields, self.config.page_size)
            .await?;
        let applied = self.apply_all(scope, &records).await?;
        if let Some(mark) = next_watermark(&records) {
            let txn = crate::store::begin_write(&self.db).await?;
            if !sync::fence(&txn, LEASE_NAME, &self.holder, token, Utc::now()).await? {
                tracing::warn!(
                    table,
                    "poller lease lost; the watermark stays for the next poller"
                );
                return Ok(None);
            }
            sync::advance_watermark(&txn, &table, mark, Utc::now()).await?;
            txn.commit().await?;
            let lag = (Utc::now() - mark).num_seconds().max(0);
            metrics::gauge!("poller_lag_seconds", "table" => table.clone()).set(lag as f64);
        }
        Ok(Some(applied))
    }

    async fn apply_all(
        &self,
        scope: ChangeScope<'_>,
        records: &[Record],
    ) -> Result<Vec<Applied>, PollError> {
        let mappings = self.mappings();
        let applier = self.applier(&mappings);
        let comments = match scope {
            ChangeScope::Approvals => self.approval_comments(records).await?,
            ChangeScope::Tickets(_) => Default::default(),
        };
        let mut applied = Vec::new();
        for record in records {
            let mut done = match scope {
                ChangeScope::Tickets(table) => applier.ticket(table, record).await?,
                ChangeScope::Approvals => {
                    let comment = record.sys_id().and_then(|id| comments.get(id));
                    applier
                        .approval(record, comment.map(String::as_str))
                        .await?
                }
            };
            for a in &done {
                tracing::info!(
                    ticket = a.number.as_deref().unwrap_or("?"),
                    finding = a.finding_id,
                    transition = %a.transition,
                    by = %a.actor,
                    "ticket change applied to its finding"
                );
                metrics::counter!("poller_changes_applied_total", "kind" => a.transition.as_str())
                    .increment(1);
            }
            applied.append(&mut done);
        }
        Ok(applied)
    }

    /// The latest comment on each decided approval, read from the journal: actual values
    /// leave `comments` empty. No request when nothing was decided.
    async fn approval_comments(
        &self,
        records: &[Record],
    ) -> Result<std::collections::HashMap<String, String>, PollError> {
        let decided: Vec<&str> = records
            .iter()
            .filter(|r| matches!(r.str("state"), Some("approved" | "rejected")))
            .filter_map(Record::sys_id)
            .collect();
        if decided.is_empty() {
            return Ok(Default::default());
        }
        let entries = self
            .client
            .journal_entries(APPROVALS_TABLE, &decided, Journal::Comments)
            .await?;
        // Oldest first: the last entry of each record wins.
        Ok(entries
            .iter()
            .filter_map(|e| Some((e.str("element_id")?.to_owned(), e.str("value")?.to_owned())))
            .collect())
    }

    /// Reads the hinted record again and applies it as a poll would.
    pub async fn hint(&self, hint: &Hint) -> Result<Vec<Applied>, PollError> {
        let mappings = self.mappings();
        let applier = self.applier(&mappings);
        let applied = if hint.table == APPROVALS_TABLE {
            let record = self
                .client
                .get(APPROVALS_TABLE, &hint.sys_id, &APPROVAL_FIELDS)
                .await?;
            match record {
                Some(record) => {
                    let comments = self
                        .approval_comments(std::slice::from_ref(&record))
                        .await?;
                    let comment = comments.get(&hint.sys_id).map(String::as_str);
                    applier.approval(&record, comment).await?
                }
                None => Vec::new(),
            }
        } else {
            let fields = ticket_fields(&hint.table, &self.mappings());
            let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
            match self.client.get(&hint.table, &hint.sys_id, &fields).await? {
                Some(record) => applier.ticket(&hint.table, &record).await?,
                None => Vec::new(),
            }
        };
        if !applied.is_empty() {
            self.outbox_wake.notify_one();
        }
        Ok(applied)
    }
}

/// Where the watermark may move after reading `records`: the newest change read. Pages are
/// keyed on the last row read (`Client::changes`), so no change older than that was skipped.
pub fn next_watermark(records: &[Record]) -> Option<DateTime<Utc>> {
    records.iter().filter_map(Record::updated_on).max()
}
