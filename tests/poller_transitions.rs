//! What a ticket change means for its finding, decided on values alone (no database, no
//! network): the ticket as last known, the ticket now, and the finding.

use snowsync::domain::FindingStatus;
use snowsync::mapping::{self, Mappings};
use snowsync::poller::transition::{
    Decision, FindingNow, TicketValues, Transition, approval_transition, ticket_transitions,
};

fn mappings() -> Mappings {
    let text = r#"
[default]
profile = "p"

[profile.p]
table = "incident"
closed_states = ["resolved", "closed"]
escalate_when = { field = "priority", equals = ["1", "2"] }
"#;
    mapping::from_texts(&[("rules.toml".to_owned(), text.to_owned())]).unwrap()
}

fn ticket(state: &str, priority: &str) -> TicketValues {
    TicketValues {
        state: Some(state.to_owned()),
        priority: Some(priority.to_owned()),
        ..Default::default()
    }
}

fn finding(status: FindingStatus) -> FindingNow {
    FindingNow {
        status,
        decision: None,
    }
}

fn decide(before: &TicketValues, after: &TicketValues, now: FindingNow) -> Vec<Transition> {
    let m = mappings();
    ticket_transitions(m.profile("p").unwrap(), before, after, now)
}

#[test]
fn entering_a_closed_state_resolves_an_open_finding() {
    let t = decide(
        &ticket("2", "4"),
        &ticket("6", "4"),
        finding(FindingStatus::Open),
    );
    assert_eq!(t, [Transition::Resolved]);
}

#[test]
fn a_closed_ticket_of_a_finding_already_resolved_changes_nothing() {
    // Our own close, read back before its answer was recorded.
    let t = decide(
        &ticket("2", "4"),
        &ticket("6", "4"),
        finding(FindingStatus::Resolved),
    );
    assert!(t.is_empty());
}

#[test]
fn a_change_that_stays_closed_is_not_a_second_resolution() {
    let t = decide(
        &ticket("6", "4"),
        &ticket("7", "4"),
        finding(FindingStatus::Open),
    );
    assert!(t.is_empty());
}

#[test]
fn leaving_the_closed_states_reopens_a_resolved_finding() {
    let t = decide(
        &ticket("6", "4"),
        &ticket("2", "4"),
        finding(FindingStatus::Resolved),
    );
    assert_eq!(t, [Transition::Reopened]);
}

#[test]
fn a_priority_raised_into_the_condition_escalates_once() {
    let raised = decide(
        &ticket("2", "4"),
        &ticket("2", "2"),
        finding(FindingStatus::Open),
    );
    assert_eq!(raised, [Transition::Escalated]);
    let again = decide(
        &ticket("2", "2"),
        &ticket("2", "1"),
        finding(FindingStatus::Open),
    );
    assert!(again.is_empty(), "already within the condition");
    let escalated = decide(
        &ticket("2", "4"),
        &ticket("2", "1"),
        finding(FindingStatus::Escalated),
    );
    assert!(escalated.is_empty(), "the finding is escalated already");
}

#[test]
fn a_request_newly_approved_records_the_decision_once() {
    let before = TicketValues {
        approval: Some("requested".to_owned()),
        ..ticket("1", "4")
    };
    let after = TicketValues {
        approval: Some("approved".to_owned()),
        ..ticket("1", "4")
    };
    assert_eq!(
        decide(&before, &after, finding(FindingStatus::Open)),
        [Transition::Approved]
    );
    let decided = FindingNow {
        status: FindingStatus::Open,
        decision: Some(Decision::Approved),
    };
    assert!(decide(&before, &after, decided).is_empty());
}

#[test]
fn an_approver_record_decides_only_an_undecided_finding() {
    assert_eq!(
        approval_transition("rejected", finding(FindingStatus::Open)),
        Some(Transition::Rejected)
    );
    assert_eq!(
        approval_transition("requested", finding(FindingStatus::Open)),
        None
    );
    let decided = FindingNow {
        status: FindingStatus::Open,
        decision: Some(Decision::Rejected),
    };
    assert_eq!(approval_transition("approved", decided), None);
}
