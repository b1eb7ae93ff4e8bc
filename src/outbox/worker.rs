//! Outbox workers: claim due rows (up to `outbox.batch_size`, at most one per finding),
//! deliver them together, record each outcome. Nothing else.
//!
//! No transaction is open while rows are being delivered: the claim commits first. The rows
//! are held by one `Lease` (renewed while the delivery runs, consulted before every write)
//! and the delivery is cut off after `outbox.delivery_timeout`.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use sea_orm::{DatabaseConnection, DbErr};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::lease::Lease;
use super::outage::OutagePause;
use super::retry::{self, Next};
use crate::config::OutboxConfig;
use crate::servicenow::Fence;
use crate::store::entity::outbox::Model as OutboxRow;
use crate::store::outbox::{self as rows, ClaimTerms};

/// The outcome of one delivery attempt, decided in one place by the deliverer.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    Done,
    /// A transient failure. `maybe_applied`: ServiceNow may have applied the write.
    /// `unanswered`: a write got no answer, so the instance may still apply it; the next
    /// attempt waits the takeover grace, and its lookup then sees the write if it landed.
    Retry {
        after: Option<Duration>,
        reason: String,
        maybe_applied: bool,
        unanswered: bool,
    },
    /// ServiceNow is unavailable (`Disposition::Outage`): the row is not at fault. It is
    /// retried without end and without using its attempts, and the pool pauses.
    Outage {
        after: Option<Duration>,
        reason: String,
        maybe_applied: bool,
        unanswered: bool,
    },
    /// A permanent failure: the row goes dead with the reason.
    Dead {
        reason: String,
    },
}

/// Delivers outbox rows to wherever their operations go, passing every write through
/// `fence` (the worker's lease) right before it is sent.
pub trait Deliver: Send + Sync + 'static {
    fn deliver(
        &self,
        row: &OutboxRow,
        fence: Fence,
    ) -> impl std::future::Future<Output = Delivery> + Send;

    /// Delivers rows claimed together, each of a different finding: one outcome per row,
    /// in order. By default each row on its own, all at once.
    fn deliver_all(
        &self,
        rows: &[OutboxRow],
        fence: Fence,
    ) -> impl std::future::Future<Output = Vec<Delivery>> + Send {
        futures_util::future::join_all(rows.iter().map(move |row| self.deliver(row, fence.clone())))
    }
}

/// Claims and delivers due rows as `worker`, up to `outbox.batch_size`, burying first the
/// rows whose last attempt's lease expired. Returns whether a row was handled.
pub async fn dispatch_once<D: Deliver>(
    db: &DatabaseConnection,
    worker: &str,
    config: &OutboxConfig,
    deliverer: &D,
) -> Result<bool, DbErr> {
    bury_exhausted(db, config).await?;
    dispatch_with(db, worker, config, deliverer, &OutagePause::default()).await
}

/// Buries the rows whose lease expired on their last attempt (`rows::bury_exhausted`).
async fn bury_exhausted(db: &DatabaseConnection, config: &OutboxConfig) -> Result<(), DbErr> {
    for row in rows::bury_exhausted(db, &ClaimTerms::of(config), Utc::now()).await? {
        let reason = row.last_error.as_deref().unwrap_or_default();
        tracing::error!(outbox.id = row.id, op = %row.op, attempts = row.attempts, error = %reason, "delivery dead");
        metrics::counter!("outbox_dead_total", "op" => row.op.as_str()).increment(1);
    }
    Ok(())
}

/// Claims and delivers up to `outbox.batch_size` due rows for a worker of a pool: an
/// outage pauses `outage`, a delivery ends it. Returns whether a row was handled.
async fn dispatch_with<D: Deliver>(
    db: &DatabaseConnection,
    worker: &str,
    config: &OutboxConfig,
    deliverer: &D,
    outage: &OutagePause,
) -> Result<bool, DbErr> {
    let terms = ClaimTerms::of(config);
    let claimed_at = tokio::time::Instant::now();
    let claimed = rows::claim(db, worker, config.batch_size as u64, &terms, Utc::now()).await?;
    if claimed.is_empty() {
        return Ok(false);
    }
    let lease = Lease::hold(db.clone(), worker, &claimed, config.lease, claimed_at);
    let outcomes = tokio::select! {
        delivered = tokio::time::timeout(config.delivery_timeout, deliverer.deliver_all(&claimed, lease.fence())) => {
            delivered.unwrap_or_else(|_| vec![Delivery::Retry {
                after: None,
                reason: format!(
                    "delivery cut off after {}",
                    humantime::format_duration(config.delivery_timeout)
                ),
                // A write may have been on its way when the delivery was dropped.
                maybe_applied: true,
                unanswered: true,
            }; claimed.len()])
        }
        () = lease.lost() => vec![Delivery::Retry {
            after: None,
            reason: "lease lost to another worker during delivery".to_owned(),
            maybe_applied: true,
            unanswered: true,
        }; claimed.len()],
    };
    lease.release();
    let mut done = Vec::new();
    for (row, outcome) in claimed.iter().zip(outcomes) {
        match outcome {
            Delivery::Done => done.push(row),
            other => settle(db, worker, config, outage, row, other).await?,
        }
    }
    complete(db, worker, outage, &done).await?;
    Ok(true)
}

/// Acks the delivered rows in one statement.
async fn complete(
    db: &DatabaseConnection,
    worker: &str,
    outage: &OutagePause,
    done: &[&OutboxRow],
) -> Result<(), DbErr> {
    if done.is_empty() {
        return Ok(());
    }
    outage.delivered();
    for row in done {
        metrics::counter!("outbox_delivered_total", "op" => row.op.as_str()).increment(1);
    }
    let kept = rows::complete_all(db, done, worker, Utc::now()).await?;
    if kept < done.len() as u64 {
        tracing::warn!(
            worker,
            lost = done.len() as u64 - kept,
            "lease lost before the ack; another worker owns the rows"
        );
    }
    Ok(())
}

/// The delay before a row's next attempt: `delay`, or the takeover grace after a write that
/// got no answer, since the instance may still apply it and the next attempt looks it up.
fn after_unanswered(config: &OutboxConfig, delay: Duration, unanswered: bool) -> Duration {
    if unanswered {
        delay.max(config.takeover_grace())
    } else {
        delay
    }
}

fn due_after(now: chrono::DateTime<Utc>, delay: Duration) -> chrono::DateTime<Utc> {
    now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::seconds(300))
}

async fn settle(
    db: &DatabaseConnection,
    worker: &str,
    config: &OutboxConfig,
    outage: &OutagePause,
    row: &OutboxRow,
    outcome: Delivery,
) -> Result<(), DbErr> {
    let now = Utc::now();
    let kept = match outcome {
        Delivery::Done => {
            complete(db, worker, outage, &[row]).await?;
            true
        }
        Delivery::Outage {
            after,
            reason,
            maybe_applied,
            unanswered,
        } => {
            let pause = outage.outage(&config.retry, after, &reason);
            let delay = after_unanswered(config, pause, unanswered);
            tracing::warn!(outbox.id = row.id, op = %row.op, outages = row.outage_attempts + 1, delay = ?delay, error = %reason, "ServiceNow unavailable, will retry; the row keeps its attempts");
            metrics::counter!("outbox_outage_retries_total", "op" => row.op.as_str()).increment(1);
            rows::postpone(
                db,
                row,
                worker,
                due_after(now, delay),
                &reason,
                maybe_applied,
                now,
            )
            .await?
        }
        Delivery::Retry {
            after,
            reason,
            maybe_applied,
            unanswered,
        } => match retry::next(&config.retry, rows::spent(row), after, fastrand::f64()) {
            Next::After(delay) => {
                let delay = after_unanswered(config, delay, unanswered);
                let due = due_after(now, delay);
                tracing::warn!(outbox.id = row.id, op = %row.op, attempt = row.attempts, delay = ?delay, error = %reason, "delivery failed, will retry");
                metrics::counter!("outbox_retries_total", "op" => row.op.as_str()).increment(1);
                rows::reschedule(db, row, worker, due, &reason, maybe_applied, now).await?
            }
            Next::GiveUp => {
                let reason = format!("gave up after {} attempts: {reason}", rows::spent(row));
                tracing::error!(outbox.id = row.id, op = %row.op, error = %reason, "delivery dead");
                metrics::counter!("outbox_dead_total", "op" => row.op.as_str()).increment(1);
                rows::bury(db, row, worker, &reason, now).await?
            }
        },
        Delivery::Dead { reason } => {
            tracing::error!(outbox.id = row.id, op = %row.op, error = %reason, "delivery dead");
            metrics::counter!("outbox_dead_total", "op" => row.op.as_str()).increment(1);
            rows::bury(db, row, worker, &reason, now).await?
        }
    };
    if !kept {
        tracing::warn!(
            outbox.id = row.id,
            worker,
            "lease lost before the ack; another worker owns the row"
        );
    }
    Ok(())
}

/// A pool of workers sharing one deliverer, woken early by `wake` when rows are enqueued.
pub struct WorkerPool {
    tasks: JoinSet<()>,
}

impl WorkerPool {
    /// Starts `config.workers` workers named `{instance}-{n}`.
    pub fn start<D: Deliver>(
        db: DatabaseConnection,
        instance: &str,
        config: OutboxConfig,
        deliverer: Arc<D>,
        wake: Arc<Notify>,
        shutdown: CancellationToken,
    ) -> Self {
        let mut tasks = JoinSet::new();
        let outage = Arc::new(OutagePause::default());
        for n in 0..config.workers {
            let worker = Worker {
                name: format!("{instance}-{n}"),
                db: db.clone(),
                config: config.clone(),
                outage: outage.clone(),
            };
            let (deliverer, wake, shutdown) = (deliverer.clone(), wake.clone(), shutdown.clone());
            tasks.spawn(async move { work(worker, deliverer, wake, shutdown).await });
        }
        Self { tasks }
    }

    /// Waits until every worker has finished its row in hand and stopped.
    pub async fn join(mut self) {
        while self.tasks.join_next().await.is_some() {}
    }
}

/// One worker of a pool and what it shares with the others.
struct Worker {
    name: String,
    db: DatabaseConnection,
    config: OutboxConfig,
    outage: Arc<OutagePause>,
}

async fn work<D: Deliver>(
    w: Worker,
    deliverer: Arc<D>,
    wake: Arc<Notify>,
    shutdown: CancellationToken,
) {
    let worker = w.name.as_str();
    // Burying is a scan of the in-flight rows; it runs between claims, not before each.
    let bury_every = w.config.idle_poll.max(Duration::from_secs(1));
    let mut buried_at: Option<tokio::time::Instant> = None;
    while !shutdown.is_cancelled() {
        if buried_at.is_none_or(|at| at.elapsed() >= bury_every) {
            buried_at = Some(tokio::time::Instant::now());
            if let Err(e) = bury_exhausted(&w.db, &w.config).await {
                tracing::warn!(worker, error = %e, "burying exhausted rows failed");
            }
        }
        // While ServiceNow is unavailable nobody claims: the pause ends by itself.
        if let Some(left) = w.outage.remaining() {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(left) => {}
            }
            continue;
        }
        match dispatch_with(&w.db, worker, &w.config, deliverer.as_ref(), &w.outage).await {
            Ok(true) => {
                // There may be more due rows, and the row just settled may have unblocked its
                // finding's next one: pass the wake on, one worker at a time. A permit is kept
                // when nobody waits, so the wake is not lost.
                wake.notify_one();
                continue;
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(worker, error = %e, "outbox claim failed; backing off"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = wake.notified() => {}
            _ = tokio::time::sleep(w.config.idle_poll) => {}
        }
    }
    tracing::debug!(worker, "outbox worker stopped");
}
