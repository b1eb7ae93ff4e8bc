//! Group commit: the writes of this process that arrive while another transaction runs are
//! handed to the next one, which runs each in a savepoint of its own and commits once. Each
//! writer is answered only after that commit, with its own result: one take of SQLite's
//! write lock and one log flush on PostgreSQL for a burst of API requests, instead of one
//! each.
//!
//! A job that fails rolls back its savepoint and no one else's. A group, once taken, runs to
//! its end in a task of its own, so a caller that goes away (a client hanging up) cancels
//! neither its neighbours' writes nor their answers.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use sea_orm::{DatabaseConnection, DatabaseTransaction, DbErr, TransactionTrait};
use tokio::sync::oneshot;

/// Work that writes in the transaction it is given, and only there.
pub trait Job: Send + Sync + 'static {
    type Output: Send + 'static;
    type Error: From<DbErr> + Send + 'static;

    fn run<'t>(
        &'t self,
        txn: &'t DatabaseTransaction,
    ) -> impl Future<Output = Result<Self::Output, Self::Error>> + Send + 't;

    /// The error a job gets when the group's commit failed: `err` as the database said it
    /// (only one job can have it as such; `DbErr` is not `Clone`).
    fn commit_failed(err: &DbErr) -> Self::Error;
}

type Answer<J> = Result<<J as Job>::Output, <J as Job>::Error>;

struct Waiting<J: Job> {
    job: J,
    answer: oneshot::Sender<Answer<J>>,
}

/// The writers of one process to one database.
pub struct GroupCommit<J: Job> {
    db: DatabaseConnection,
    waiting: Arc<Mutex<Vec<Waiting<J>>>>,
    turn: Arc<tokio::sync::Mutex<()>>,
    /// The most jobs one transaction takes: a bound on how long a group holds the lock.
    most: usize,
}

impl<J: Job> GroupCommit<J> {
    pub fn new(db: DatabaseConnection, most: usize) -> Self {
        Self {
            db,
            waiting: Arc::default(),
            turn: Arc::default(),
            most: most.max(1),
        }
    }

    /// Writes waiting for a transaction.
    pub fn waiting(&self) -> usize {
        self.lock_waiting().len()
    }

    /// Runs `job` in the next transaction and answers once it is committed (or rolled back).
    pub async fn submit(&self, job: J) -> Answer<J> {
        let (answer, mut answered) = oneshot::channel();
        self.lock_waiting().push(Waiting { job, answer });
        loop {
            // Turns are taken in arrival order; a holder runs the jobs waiting when it starts.
            let turn = self.turn.clone().lock_owned().await;
            match answered.try_recv() {
                // An earlier group ran this job.
                Ok(result) => return result,
                Err(oneshot::error::TryRecvError::Closed) => {
                    return Err(J::commit_failed(&DbErr::Custom(
                        "the group transaction ended without answering this write".into(),
                    )));
                }
                Err(oneshot::error::TryRecvError::Empty) => {}
            }
            let group: Vec<Waiting<J>> = {
                let mut waiting = self.lock_waiting();
                let take = waiting.len().min(self.most);
                waiting.drain(..take).collect()
            };
            let db = self.db.clone();
            // The group runs to its end whatever happens to this caller; the turn goes with it.
            let _ = tokio::spawn(async move {
                run_group(&db, group).await;
                drop(turn);
            })
            .await;
        }
    }

    fn lock_waiting(&self) -> std::sync::MutexGuard<'_, Vec<Waiting<J>>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Runs `group` in one transaction, each job in a savepoint, commits, and answers each.
async fn run_group<J: Job>(db: &DatabaseConnection, group: Vec<Waiting<J>>) {
    if group.is_empty() {
        return;
    }
    let txn = match super::begin_write(db).await {
        Ok(txn) => txn,
        Err(err) => return answer_all_failed(group, &err),
    };
    let mut outcomes = Vec::with_capacity(group.len());
    for waiting in group {
        let outcome = run_one(&txn, &waiting.job).await;
        outcomes.push((waiting, outcome));
    }
    if let Err(err) = txn.commit().await {
        let group = outcomes.into_iter().map(|(w, _)| w).collect();
        return answer_all_failed(group, &err);
    }
    for (waiting, outcome) in outcomes {
        // A caller that went away no longer listens; its write stands.
        let _ = waiting.answer.send(outcome);
    }
}

/// One job in its own savepoint: released when the job succeeds, rolled back when it fails,
/// so a failed job leaves nothing and the transaction goes on (on PostgreSQL a failed
/// statement would otherwise abort it).
async fn run_one<J: Job>(txn: &DatabaseTransaction, job: &J) -> Answer<J> {
    let savepoint = txn.begin().await?;
    match job.run(&savepoint).await {
        Ok(output) => {
            savepoint.commit().await?;
            Ok(output)
        }
        Err(err) => {
            savepoint.rollback().await?;
            Err(err)
        }
    }
}

fn answer_all_failed<J: Job>(group: Vec<Waiting<J>>, err: &DbErr) {
    for waiting in group {
        let _ = waiting.answer.send(Err(J::commit_failed(err)));
    }
}
