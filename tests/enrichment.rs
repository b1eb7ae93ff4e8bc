//! The digest's user details filled from the instance (`enrich_from_instance`, on in the
//! starter Oort profiles): findings in, tickets out, against the emulator over HTTP, on
//! SQLite and on PostgreSQL.

mod support;

use snowsync::servicenow::Record;
use snowsync::store::findings;
use support::harness::Harness;

/// An Oort check failing for a user it names by email only, as Oort's webhook does.
fn by_email(check_id: &str, email: &str) -> serde_json::Value {
    serde_json::json!({
        "source": "oort",
        "kind": "check",
        "check_id": check_id,
        "title": "MFA Not Enrolled",
        "severity": "medium",
        "subject": {"login": email, "email": email},
        "description": ["The user has no second factor enrolled."],
        "recommended_actions": ["Ask the user to enroll a second factor."],
        "occurred_at": "2026-11-01T10:00:00Z"
    })
}

async fn description(h: &Harness, finding_id: i64) -> String {
    let link = findings::link(&h.db, finding_id)
        .await
        .expect("link")
        .expect("a ticket link");
    let ticket: Record = h
        .client()
        .get(
            &link.table_name,
            &link.sys_id.expect("created"),
            &["description"],
        )
        .await
        .expect("read")
        .expect("the ticket exists");
    ticket.str("description").unwrap_or_default().to_owned()
}

fn sys_user_lookups(stats: &snowsync::sim::SimStats) -> u64 {
    stats.table_requests("sys_user", "GET")
}

on_both_engines!(
    the_digest_fills_user_details_the_source_left_out_from_sys_user,
    |test_db| {
        let h = Harness::start(test_db.engine).await;
        let recorded = h
            .failing(&by_email("inactive-users", "abel.tuter@example.com"))
            .await;
        h.drain().await;
        let text = description(&h, recorded.finding_id).await;
        for line in [
            "Display Name          : Abel Tuter",
            "Manager               : David Loo",
            "Phone                 : +1 858 555 0102",
            "Department            : Finance",
            "Location              : San Diego",
            "(From ServiceNow's user record: display name, manager, phone, department, location.)",
        ] {
            assert!(text.contains(line), "missing `{line}` in:\n{text}");
        }
    }
);

on_both_engines!(
    details_the_source_sent_are_kept_and_not_credited_to_servicenow,
    |test_db| {
        let h = Harness::start(test_db.engine).await;
        let mut finding = by_email("inactive-users", "abel.tuter@example.com");
        finding["subject"]["display_name"] = "Abel T. (from Oort)".into();
        let recorded = h.failing(&finding).await;
        h.drain().await;
        let text = description(&h, recorded.finding_id).await;
        assert!(
            text.contains("Display Name          : Abel T. (from Oort)"),
            "{text}"
        );
        assert!(
            text.contains("(From ServiceNow's user record: manager, phone, department, location.)"),
            "{text}"
        );
    }
);

on_both_engines!(an_unknown_user_leaves_the_details_n_a, |test_db| {
    let h = Harness::start(test_db.engine).await;
    let recorded = h
        .failing(&by_email("inactive-users", "nobody@simubiz.com"))
        .await;
    h.drain().await;
    let text = description(&h, recorded.finding_id).await;
    assert!(text.contains("Display Name          : N/A"), "{text}");
    assert!(text.contains("Manager               : N/A"), "{text}");
    assert!(!text.contains("From ServiceNow"), "{text}");
    assert!(!text.contains("Department"), "{text}");
});

on_both_engines!(
    a_thousand_findings_of_ten_users_cost_at_most_ten_sys_user_lookups,
    |test_db| {
        let h = Harness::start(test_db.engine).await;
        let users = [
            "abel.tuter@example.com",
            "david.loo@example.com",
            "joe.employee@example.com",
            "help.desk@example.com",
            "snowsync.integration@example.com",
            "nobody.1@simubiz.com",
            "nobody.2@simubiz.com",
            "nobody.3@simubiz.com",
            "nobody.4@simubiz.com",
            "nobody.5@simubiz.com",
        ];
        let before = sys_user_lookups(&h.stats().await);
        for check in 0..100 {
            for user in users {
                h.failing(&by_email(&format!("check-{check}"), user)).await;
            }
        }
        h.drain().await;
        let stats = h.stats().await;
        assert_eq!(stats.records("incident"), 1000);
        let lookups = sys_user_lookups(&stats) - before;
        assert!(
            lookups <= 10,
            "{lookups} sys_user lookups for 10 users (the caller and the digest share them)"
        );
    }
);
