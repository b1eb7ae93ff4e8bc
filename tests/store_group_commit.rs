//! Group commit: concurrent writes share a transaction, each in a savepoint of its own, and
//! each caller is answered after the commit, on SQLite and PostgreSQL.

mod support;

use std::sync::Arc;

use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr, Statement};
use snowsync::store::group_commit::{GroupCommit, Job};
use tokio::sync::Notify;

/// Inserts `n` into `probe`, after waiting for `hold` when given; fails instead when `fail`.
/// Answers how many rows its transaction sees, and how many another connection sees.
struct Probe {
    n: i64,
    fail: bool,
    /// Says it runs on the first, then waits for the second.
    hold: Option<(Arc<Notify>, Arc<Notify>)>,
    outside: DatabaseConnection,
}

impl Probe {
    fn new(n: i64, outside: &DatabaseConnection) -> Self {
        Self {
            n,
            fail: false,
            hold: None,
            outside: outside.clone(),
        }
    }
}

async fn count(db: &impl ConnectionTrait) -> Result<i64, DbErr> {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) FROM probe",
        ))
        .await?
        .expect("a count");
    row.try_get_by_index::<i64>(0)
}

impl Job for Probe {
    type Output = (i64, i64);
    type Error = DbErr;

    async fn run(&self, txn: &DatabaseTransaction) -> Result<(i64, i64), DbErr> {
        let backend = txn.get_database_backend();
        txn.execute_raw(Statement::from_sql_and_values(
            backend,
            "INSERT INTO probe (n) VALUES ($1)",
            [self.n.into()],
        ))
        .await?;
        if let Some((running, release)) = &self.hold {
            running.notify_one();
            release.notified().await;
        }
        if self.fail {
            return Err(DbErr::Custom(format!("probe {} fails", self.n)));
        }
        Ok((count(txn).await?, count(&self.outside).await?))
    }

    fn commit_failed(err: &DbErr) -> DbErr {
        DbErr::Custom(err.to_string())
    }
}

async fn probe_table(db: &DatabaseConnection) {
    db.execute_raw(Statement::from_string(
        db.get_database_backend(),
        "CREATE TABLE probe (n BIGINT NOT NULL)",
    ))
    .await
    .expect("probe table");
}

/// Starts a job that holds the turn until `release` is notified; returns once it runs.
async fn holding(
    group: &Arc<GroupCommit<Probe>>,
    db: &DatabaseConnection,
    release: &Arc<Notify>,
) -> tokio::task::JoinHandle<Result<(i64, i64), DbErr>> {
    let running = Arc::new(Notify::new());
    let mut first = Probe::new(0, db);
    first.hold = Some((running.clone(), release.clone()));
    let g = group.clone();
    let task = tokio::spawn(async move { g.submit(first).await });
    running.notified().await;
    task
}

on_both_engines!(
    writes_that_arrive_during_a_transaction_share_the_next_one,
    |test_db| {
        let db = test_db.open().await;
        probe_table(&db).await;
        let group = Arc::new(GroupCommit::new(db.clone(), 64));
        let release = Arc::new(Notify::new());
        let first = holding(&group, &db, &release).await;
        let mut later = Vec::new();
        for n in 1..=3 {
            let g = group.clone();
            let probe = Probe::new(n, &db);
            later.push(tokio::spawn(async move { g.submit(probe).await }));
        }
        // Each of the three is queued behind the held turn before the holder lets go.
        while group.waiting() < 3 {
            tokio::task::yield_now().await;
        }
        release.notify_one();
        assert_eq!(first.await.expect("task").expect("first"), (1, 0));
        let mut seen = Vec::new();
        for task in later {
            seen.push(task.await.expect("task").expect("a later write"));
        }
        // In one transaction the last sees the two before it, which no one else sees yet.
        seen.sort();
        assert_eq!(seen, vec![(2, 1), (3, 1), (4, 1)]);
        assert_eq!(count(&db).await.expect("count"), 4, "all committed");
    }
);

on_both_engines!(
    a_failing_write_rolls_back_its_own_rows_and_no_one_elses,
    |test_db| {
        let db = test_db.open().await;
        probe_table(&db).await;
        let group = Arc::new(GroupCommit::new(db.clone(), 64));
        let release = Arc::new(Notify::new());
        let first = holding(&group, &db, &release).await;
        let mut later = Vec::new();
        for n in 1..=3 {
            let g = group.clone();
            let mut probe = Probe::new(n, &db);
            probe.fail = n == 2;
            later.push(tokio::spawn(async move { g.submit(probe).await }));
        }
        while group.waiting() < 3 {
            tokio::task::yield_now().await;
        }
        release.notify_one();
        first.await.expect("task").expect("first");
        let results: Vec<_> = futures_util::future::join_all(later).await;
        let failed: Vec<bool> = results
            .into_iter()
            .map(|r| r.expect("task").is_err())
            .collect();
        assert_eq!(failed, vec![false, true, false]);
        let kept: Vec<i64> = db
            .query_all_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT n FROM probe ORDER BY n",
            ))
            .await
            .expect("rows")
            .iter()
            .map(|r| r.try_get_by_index::<i64>(0).expect("n"))
            .collect();
        assert_eq!(kept, vec![0, 1, 3]);
    }
);

on_both_engines!(
    a_caller_that_goes_away_cancels_neither_its_write_nor_its_neighbours,
    |test_db| {
        let db = test_db.open().await;
        probe_table(&db).await;
        let group = Arc::new(GroupCommit::new(db.clone(), 64));
        let release = Arc::new(Notify::new());
        let first = holding(&group, &db, &release).await;
        let g = group.clone();
        let neighbour = tokio::spawn({
            let probe = Probe::new(1, &db);
            async move { g.submit(probe).await }
        });
        while group.waiting() < 1 {
            tokio::task::yield_now().await;
        }
        // The holder's caller hangs up while its group runs.
        first.abort();
        release.notify_one();
        neighbour
            .await
            .expect("task")
            .expect("the neighbour is answered");
        assert_eq!(count(&db).await.expect("count"), 2, "both committed");
    }
);
