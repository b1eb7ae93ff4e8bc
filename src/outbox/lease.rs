//! A worker's hold on the rows it delivers: the heartbeat that renews the claims while the
//! delivery runs, and the write fence the ServiceNow client consults before each write.
//!
//! Right before each write the fence renews every claim of the hold in the database in one
//! statement, fenced like an ack (same worker, same attempt, still in flight), and admits
//! the write only when every renewal succeeded and the lease outlasts the request timeout;
//! a longer call (a Batch API call) is cut to what is left of the lease.
//! So a worker any of whose rows was taken over sends nothing, whatever the clocks say (a
//! batch carries writes of all its rows), and every write it does send has ended, on its
//! side, before its lease can expire. Nothing here decides what a delivery does; it only
//! says whether it may still write.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::Utc;
use sea_orm::DatabaseConnection;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::servicenow::{Fence, FenceFuture, WriteFence};
use crate::store::entity::outbox::Model as OutboxRow;
use crate::store::outbox as rows;

/// The claims of one worker on the rows it claimed together, renewed by a heartbeat until
/// released. They stand or fall together.
pub struct Lease {
    hold: Arc<Hold>,
    heartbeat: JoinHandle<()>,
}

struct Hold {
    db: DatabaseConnection,
    worker: String,
    rows: Vec<OutboxRow>,
    lease: Duration,
    state: Mutex<State>,
    lost: Notify,
}

struct State {
    /// The claim is confirmed in the database until at least this instant (monotonic):
    /// the start of the statement that last set `locked_until`, plus the lease.
    confirmed_until: Instant,
    /// The database said a row is no longer this worker's.
    lost: bool,
}

impl Lease {
    /// Holds `rows`, claimed by `worker` with a claim statement sent at `claimed_at`, and
    /// renews them every third of `lease` until released.
    pub fn hold(
        db: DatabaseConnection,
        worker: &str,
        rows: &[OutboxRow],
        lease: Duration,
        claimed_at: Instant,
    ) -> Self {
        let hold = Arc::new(Hold {
            db,
            worker: worker.to_owned(),
            rows: rows.to_vec(),
            lease,
            state: Mutex::new(State {
                confirmed_until: claimed_at + lease,
                lost: false,
            }),
            lost: Notify::new(),
        });
        let heartbeat = tokio::spawn(beat(hold.clone()));
        Self { hold, heartbeat }
    }

    /// The fence for the client this delivery writes through.
    pub fn fence(&self) -> Fence {
        self.hold.clone()
    }

    /// Completes when the database says another worker owns a row (or it was settled).
    pub async fn lost(&self) {
        loop {
            let notified = self.hold.lost.notified();
            if self.hold.state().lost {
                return;
            }
            notified.await;
        }
    }

    /// Stops the heartbeat. Returns whether the lease was lost meanwhile.
    pub fn release(self) -> bool {
        self.heartbeat.abort();
        self.hold.state().lost
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.heartbeat.abort();
    }
}

async fn beat(hold: Arc<Hold>) {
    let every = hold.lease / 3;
    loop {
        tokio::time::sleep(every).await;
        if !hold.renew().await {
            return;
        }
    }
}

impl Hold {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn ids(&self) -> Vec<i64> {
        self.rows.iter().map(|r| r.id).collect()
    }

    /// Renews the claims once. Returns `false` once it is lost; a database error only leaves
    /// the confirmation where it was.
    async fn renew(&self) -> bool {
        self.renew_now().await.is_ok() || !self.state().lost
    }

    /// Renews the claim once, saying why it could not.
    async fn renew_now(&self) -> Result<(), String> {
        if self.state().lost {
            return Err(LOST.to_owned());
        }
        let started = Instant::now();
        let until = Utc::now()
            + chrono::Duration::from_std(self.lease).unwrap_or(chrono::Duration::seconds(60));
        match rows::renew_all(&self.db, &self.rows, &self.worker, until).await {
            Ok(kept) if kept == self.rows.len() as u64 => {
                let mut state = self.state();
                state.confirmed_until = state.confirmed_until.max(started + self.lease);
                Ok(())
            }
            Ok(kept) => {
                tracing::warn!(
                    outbox.ids = ?self.ids(),
                    kept,
                    worker = %self.worker,
                    "lease lost: another worker owns a row; abandoning the delivery"
                );
                self.state().lost = true;
                self.lost.notify_waiters();
                Err(LOST.to_owned())
            }
            Err(e) => {
                tracing::warn!(outbox.ids = ?self.ids(), worker = %self.worker, error = %e, "lease renewal failed");
                Err(format!("the outbox lease could not be renewed: {e}"))
            }
        }
    }
}

const LOST: &str = "the outbox lease was lost to another worker";

impl WriteFence for Hold {
    /// Renews the claim now and admits the write only if the renewed lease outlasts it: a
    /// local note of an earlier renewal would not see a takeover that happened since. The
    /// answer is what is left of the renewed lease, the most an admitted write may last.
    fn admit(&self, lasting: Duration) -> FenceFuture<'_> {
        Box::pin(async move {
            self.renew_now().await?;
            let left = self
                .state()
                .confirmed_until
                .saturating_duration_since(Instant::now());
            if lasting < left {
                Ok(left)
            } else {
                Err("the renewed outbox lease would end before the request".to_owned())
            }
        })
    }
}
