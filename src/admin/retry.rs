//! Reviving dead outbox rows: each payload rendered again from the current mappings (the
//! usual fix for a dead row is a mapping fix), then the row pending and due now.

use chrono::Utc;
use sea_orm::{ConnectionTrait, DbErr};

use crate::intake::{self, IntakeError};
use crate::mapping::{Mappings, Templates};
use crate::operation::OpKind;
use crate::store::outbox::RowStatus;
use crate::store::{findings, outbox};

/// What became of one row asked to be retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Pending again and due now; `rerendered` when its payload was rendered anew (the
    /// operations whose payload does not come from the mappings keep theirs).
    Revived { rerendered: bool },
    /// There is no row with that id.
    NotFound,
    /// The row is not dead, so there is nothing to retry.
    NotDead(RowStatus),
    /// The current mappings still cannot render the row's payload; it stays dead.
    StillFails(StillFails),
    /// The row left the dead state between reading and reviving it.
    ChangedMeanwhile,
}

/// Why a dead row's payload cannot be rendered again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StillFails {
    /// The mapping cannot plan the finding.
    Plan(crate::mapping::PlanError),
    /// Anything else (a stored finding that no longer reads back), as text.
    Other(String),
}

impl std::fmt::Display for StillFails {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Plan(e) => e.fmt(f),
            Self::Other(message) => f.write_str(message),
        }
    }
}

impl Outcome {
    /// Whether the row is pending again.
    pub fn revived(&self) -> bool {
        matches!(self, Self::Revived { .. })
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Revived { rerendered: true } => {
                f.write_str("pending again, due now (payload rendered from the current mappings)")
            }
            Self::Revived { rerendered: false } => {
                f.write_str("pending again, due now (payload unchanged)")
            }
            Self::NotFound => f.write_str("not retried: no such row"),
            Self::NotDead(status) => write!(f, "not retried: it is {status}, not dead"),
            Self::StillFails(e) => write!(f, "not retried: the mapping still fails: {e}"),
            Self::ChangedMeanwhile => f.write_str("not retried: it changed state meanwhile"),
        }
    }
}

/// Retries the dead row `id`.
pub async fn row(
    db: &impl ConnectionTrait,
    id: i64,
    mappings: &Mappings,
    templates: &Templates,
) -> Result<Outcome, DbErr> {
    let Some(row) = outbox::get(db, id).await? else {
        return Ok(Outcome::NotFound);
    };
    if row.status != RowStatus::Dead {
        return Ok(Outcome::NotDead(row.status));
    }
    let payload = match findings::get(db, row.finding_id).await? {
        Some(finding) => {
            match intake::replan(&finding, row.op, &row.payload, mappings, templates) {
                Ok(payload) => payload,
                Err(IntakeError::Db(e)) => return Err(e),
                Err(IntakeError::Plan(e)) => return Ok(Outcome::StillFails(StillFails::Plan(e))),
                Err(other) => {
                    return Ok(Outcome::StillFails(StillFails::Other(other.to_string())));
                }
            }
        }
        None => None,
    };
    let rerendered = payload.is_some();
    Ok(if outbox::revive(db, id, payload, Utc::now()).await? {
        Outcome::Revived { rerendered }
    } else {
        Outcome::ChangedMeanwhile
    })
}

/// Retries every dead row, or those of one finding or one operation, in delivery order;
/// returns each row's id with its outcome.
pub async fn dead(
    db: &impl ConnectionTrait,
    finding: Option<i64>,
    op: Option<OpKind>,
    mappings: &Mappings,
    templates: &Templates,
) -> Result<Vec<(i64, Outcome)>, DbErr> {
    let mut outcomes = Vec::new();
    for id in outbox::dead_ids(db, finding, op).await? {
        outcomes.push((id, row(db, id, mappings, templates).await?));
    }
    Ok(outcomes)
}
