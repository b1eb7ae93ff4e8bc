//! The soak scenario: 2,000 findings through the running service against an emulator that
//! fails on purpose (5% 500s, 2% commit-then-fail, a 429 burst, one token revocation).
//! It must end with one ticket per finding, no dead rows, and every finding linked.

mod support;

use std::sync::Arc;

use snowsync::sim::{AfterCommit, Burst, FaultRule, Faults, SimConfig};
use snowsync::store::{findings, outbox};
use support::app::TestApp;
use support::harness::finding;

const FINDINGS: usize = 2_000;

fn faults(seed: u64) -> Faults {
    Faults::none()
        .with_seed(seed)
        .with_rule(FaultRule::error(500, 0.05))
        .with_rule(FaultRule::commit_then_fail(AfterCommit::Error, 0.02))
}

on_both_engines!(
    soak_with_faults_ends_with_exactly_one_ticket_per_finding,
    |test_db| {
        let app = TestApp::spawn_with(
            test_db.engine,
            SimConfig::default(),
            "oauth_password",
            |config| {
                config.outbox.workers = 8;
                config.outbox.retry.max_attempts = 30;
            },
        )
        .await;
        app.sim
            .set_faults(faults(7).revoking_tokens_after(300))
            .await;
        let app = Arc::new(app);
        let mut senders = tokio::task::JoinSet::new();
        for lane in 0..8 {
            let app = app.clone();
            senders.spawn(async move {
                for n in (lane..FINDINGS).step_by(8) {
                    let body =
                        finding("inactive-users", &format!("soak.user{n}@simubiz.com")).to_string();
                    let response = app.post("/v1/findings", body).await;
                    assert_eq!(response.status(), 202, "finding {n}");
                    if n == FINDINGS / 2 {
                        // Halfway: a burst of 429s on top of the other faults.
                        app.sim
                            .set_faults(faults(11).with_burst(Burst::requests(5, 1)))
                            .await;
                    }
                }
            });
        }
        while let Some(done) = senders.join_next().await {
            done.expect("sender");
        }
        app.settled().await;

        let stats = app.sim.stats().await;
        for kind in ["error_500", "commit_then_fail", "too_many_requests"] {
            assert!(
                stats.faults.get(kind).copied().unwrap_or(0) > 0,
                "the soak never injected {kind}: {:?}",
                stats.faults
            );
        }
        assert!(
            stats.requests_to("POST", "/oauth_token.do") >= 2,
            "the revoked token was replaced"
        );
        assert_eq!(
            stats.tables["incident"].records, FINDINGS as u64,
            "one incident per finding"
        );
        assert_eq!(
            stats.tables["incident"].duplicate_correlation_records, 0,
            "the duplicate audit"
        );
        let dead = outbox::list(&app.running.db, Some(outbox::RowStatus::Dead), 10)
            .await
            .expect("list");
        assert!(
            dead.is_empty(),
            "dead rows: {:?}",
            dead.iter()
                .map(|r| (&r.op, &r.last_error))
                .collect::<Vec<_>>()
        );
        let all = findings::list(&app.running.db, None, FINDINGS as u64 + 1)
            .await
            .expect("findings");
        assert_eq!(all.len(), FINDINGS);
        for f in &all {
            let link = findings::link(&app.running.db, f.id)
                .await
                .expect("link")
                .expect("a link");
            assert!(
                link.sys_id.is_some() && link.number.is_some(),
                "finding {} is not linked to its ticket",
                f.id
            );
        }
        match Arc::try_unwrap(app) {
            Ok(app) => app.stop().await,
            Err(_) => panic!("the senders still hold the app"),
        }
    }
);
