//! The state of the service at a glance: findings by status, the outbox by state, its
//! oldest owed row, the poller's progress, whether ServiceNow answers, and the last errors.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr};

use crate::domain::FindingStatus;
use crate::poller::LEASE_NAME;
use crate::servicenow::Client;
use crate::store::entity::outbox::Model as OutboxRow;
use crate::store::outbox::{self, RowStatus};
use crate::store::queries;

/// How many of the most recent errors the overview lists.
const RECENT_ERRORS: u64 = 10;

/// How long the reachability probe waits for ServiceNow's answer.
pub const SERVICENOW_PROBE: Duration = Duration::from_secs(2);

/// Everything the overview shows.
#[derive(Debug, Clone)]
pub struct Overview {
    /// Every status, in declaration order, with its count (zero included).
    pub findings: Vec<(FindingStatus, i64)>,
    /// Every row state, in declaration order, with its count (zero included).
    pub outbox: Vec<(RowStatus, i64)>,
    /// When the oldest row still owed to ServiceNow was enqueued.
    pub oldest_pending: Option<DateTime<Utc>>,
    pub poller: PollerState,
    /// `Ok` when ServiceNow answered an authenticated read, else why not.
    pub servicenow: Result<(), String>,
    /// Owed or dead rows with an error, most recently changed first.
    pub recent_errors: Vec<OutboxRow>,
}

impl Overview {
    /// How many rows are dead.
    pub fn dead(&self) -> i64 {
        count(&self.outbox, RowStatus::Dead)
    }
}

fn count<T: PartialEq + Copy>(counts: &[(T, i64)], of: T) -> i64 {
    counts
        .iter()
        .find(|(k, _)| *k == of)
        .map(|(_, n)| *n)
        .unwrap_or(0)
}

/// What the store tells of reverse sync.
#[derive(Debug, Clone)]
pub struct PollerState {
    /// `poller.interval` when this process polls; `None` when its poller is off.
    pub interval: Option<Duration>,
    /// Who holds the poller's lease, and until when.
    pub holder: Option<(String, DateTime<Utc>)>,
    /// When the lease was last taken or renewed: the start of the last cycle, known only
    /// with the interval (the lease lasts three of them).
    pub last_run: Option<DateTime<Utc>>,
    /// Per polled table, its watermark: every ticket change up to it is applied.
    pub watermarks: Vec<(String, DateTime<Utc>)>,
}

impl PollerState {
    /// How far behind the oldest watermark is.
    pub fn lag(&self, now: DateTime<Utc>) -> Option<chrono::Duration> {
        self.watermarks.iter().map(|(_, at)| now - *at).max()
    }
}

/// Reads the overview; asks ServiceNow whether it answers, waiting at most
/// [`SERVICENOW_PROBE`].
pub async fn read(
    db: &impl ConnectionTrait,
    client: &Client,
    poller_interval: Option<Duration>,
) -> Result<Overview, DbErr> {
    let found = queries::finding_counts(db).await?;
    let findings = FindingStatus::ALL
        .iter()
        .map(|s| (*s, count(&found, *s)))
        .collect();
    let rows = outbox::counts(db).await?;
    let outbox_counts = RowStatus::ALL
        .iter()
        .map(|s| (*s, count(&rows, *s)))
        .collect();
    let lease = queries::lease(db, LEASE_NAME).await?;
    let last_run = match (&lease, poller_interval) {
        (Some(lease), Some(interval)) => chrono::Duration::from_std(interval * 3)
            .ok()
            .map(|ttl| lease.expires_at - ttl),
        _ => None,
    };
    let watermarks = queries::watermarks(db)
        .await?
        .into_iter()
        .filter_map(|c| {
            DateTime::parse_from_rfc3339(&c.watermark)
                .ok()
                .map(|at| (c.table_name, at.with_timezone(&Utc)))
        })
        .collect();
    Ok(Overview {
        findings,
        outbox: outbox_counts,
        oldest_pending: outbox::oldest_pending(db).await?,
        poller: PollerState {
            interval: poller_interval,
            holder: lease.map(|l| (l.holder, l.expires_at)),
            last_run,
            watermarks,
        },
        servicenow: servicenow_answers(client).await,
        recent_errors: queries::recent_errors(db, RECENT_ERRORS).await?,
    })
}

/// Whether ServiceNow answers an authenticated read, within [`SERVICENOW_PROBE`]: one
/// read of a record that cannot exist, so reachable and allowed to read.
pub async fn servicenow_answers(client: &Client) -> Result<(), String> {
    let probe = client.get("incident", "00000000000000000000000000000000", &["sys_id"]);
    match tokio::time::timeout(SERVICENOW_PROBE, probe).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {}s", SERVICENOW_PROBE.as_secs())),
    }
}
