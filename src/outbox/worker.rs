//! Outbox workers: claim one due row, deliver it, record the outcome. Nothing else.
//!
//! No transaction is open while a row is being delivered: the claim commits first. The row
//! is held by a `Lease` (renewed while the delivery runs, consulted before every write) and
//! the delivery is cut off after `outbox.delivery_timeout`.

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

/// Delivers one outbox row to wherever its operation goes, passing every write through
/// `fence` (the worker's lease) right before it is sent.
pub trait Deliver: Send + Sync + 'static {
    fn deliver(
        &self,
        row: &OutboxRow,
        fence: Fence,
    ) -> impl std::future::Future<Output = Delivery> + Send;
}

/// Claims and delivers at most one row as `worker`. Returns whether a row was handled.
pub async fn dispatch_once<D: Deliver>(
    db: &DatabaseConnection,
    worker: &str,
    config: &OutboxConfig,
    deliverer: &D,
) -> Result<bool, DbErr> {
    dispatch_with(db, worker, config, deliverer, &OutagePause::default()).await
}

/// `dispatch_once` for a worker of a pool: an outage pauses `outage`, a delivery ends it.
async fn dispatch_with<D: Deliver>(
    db: &DatabaseConnection,
    worker: &str,
    config: &OutboxConfig,
    deliverer: &D,
    outage: &OutagePause,
) -> Result<bool, DbErr> {
    let terms = ClaimTerms::of(config);
    for row in rows::bury_exhausted(db, &terms, Utc::now()).await? {
        let reason = row.last_error.as_deref().unwrap_or_default();
        tracing::error!(outbox.id = row.id, op = %row.op, attempts = row.attempts, error = %reason, "delivery dead");
        metrics::counter!("outbox_dead_total", "op" => row.op.as_str()).increment(1);
    }
    let claimed_at = tokio::time::Instant::now();
    let Some(row) = rows::claim(db, worker, 1, &terms, Utc::now()).await?.pop() else {
        return Ok(false);
    };
    let lease = Lease::hold(db.clone(), worker, &row, config.lease, claimed_at);
    let outcome = tokio::select! {
        delivered = tokio::time::timeout(config.delivery_timeout, deliverer.deliver(&row, lease.fence())) => {
            delivered.unwrap_or_else(|_| Delivery::Retry {
                after: None,
                reason: format!(
                    "delivery cut off after {}",
                    humantime::format_duration(config.delivery_timeout)
                ),
                // A write may have been on its way when the delivery was dropped.
                maybe_applied: true,
                unanswered: true,
            })
        }
        () = lease.lost() => Delivery::Retry {
            after: None,
            reason: "lease lost to another worker during delivery".to_owned(),
            maybe_applied: true,
            unanswered: true,
        },
    };
    lease.release();
    settle(db, worker, config, outage, &row, outcome).await?;
    Ok(true)
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
            outage.delivered();
            metrics::counter!("outbox_delivered_total", "op" => row.op.as_str()).increment(1);
            rows::complete(db, row, worker, now).await?
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
    while !shutdown.is_cancelled() {
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
