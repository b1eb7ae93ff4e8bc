//! Input formats: the generic finding, the Oort webhook event and the approval request,
//! and the errors that name the field at fault.

use snowsync::domain::{FindingKind, Severity};
use snowsync::ingest::{self, IngestError, InputFormat};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[test]
fn generic_finding_carries_every_oort_user_field() {
    let findings = ingest::parse(InputFormat::Generic, &fixture("karsch_generic.json")).unwrap();
    assert_eq!(findings.len(), 1);
    let f = &findings[0];
    assert_eq!(f.source, "oort");
    assert_eq!(f.kind, FindingKind::Check);
    assert_eq!(f.check_id, "ip-threat-detected");
    assert_eq!(f.severity, Severity::High);
    assert_eq!(f.subject.login, "karsch.heuck@simubiz.com");
    assert_eq!(f.subject.display_name.as_deref(), Some("Karsch Heuck"));
    assert_eq!(f.subject.user_type.as_deref(), Some("INTERNAL"));
    assert_eq!(f.subject.manager, None);
    assert_eq!(f.subject.ip_addresses.len(), 5);
    assert_eq!(f.subject.ip_addresses[3].address, "24.38.70.198");
    assert_eq!(
        f.subject.ip_addresses[3].location.as_deref(),
        Some("US:Belleville:New Jersey")
    );
    assert_eq!(f.subject.used_factors, ["push", "totp"]);
    assert_eq!(f.subject.last_sign_in_location.as_deref(), Some("US"));
    assert_eq!(f.occurred_at.to_rfc3339(), "2022-09-18T16:08:55+00:00");
    assert!(f.approval.is_none());
}

#[test]
fn generic_finding_accepts_oort_payload_names_and_bare_addresses() {
    let body = br#"{"source": "oort", "check_id": "c", "title": "T", "severity": "LOW",
        "occurred_at": "2024-01-01T00:00:00+02:00",
        "subject": {"login": "a@b.c", "displayName": "A B", "userTypeClassification": "EXTERNAL",
                    "managerLogin": "boss@b.c", "phoneNumber": "+1 555", "ipAddresses": ["10.0.0.1"],
                    "usedApplications": ["x"], "unusedApplications": ["y"], "usedFactors": ["sms"],
                    "lastSignInLocation": "DE"}}"#;
    let f = &ingest::parse(InputFormat::Generic, body).unwrap()[0];
    assert_eq!(f.severity, Severity::Low);
    assert_eq!(f.subject.display_name.as_deref(), Some("A B"));
    assert_eq!(f.subject.user_type.as_deref(), Some("EXTERNAL"));
    assert_eq!(f.subject.manager.as_deref(), Some("boss@b.c"));
    assert_eq!(f.subject.phone.as_deref(), Some("+1 555"));
    assert_eq!(f.subject.ip_addresses[0].address, "10.0.0.1");
    assert_eq!(f.subject.ip_addresses[0].location, None);
    assert_eq!(f.subject.unused_applications, ["y"]);
    assert_eq!(f.occurred_at.to_rfc3339(), "2023-12-31T22:00:00+00:00");
}

#[test]
fn oort_event_fans_out_one_finding_per_failing_user() {
    let findings = ingest::parse(InputFormat::Oort, &fixture("oort_webhook_test.json")).unwrap();
    let logins: Vec<&str> = findings.iter().map(|f| f.subject.login.as_str()).collect();
    assert_eq!(logins, ["user1@example.com", "user2@example.com"]);
    for f in &findings {
        assert_eq!(f.source, "oort");
        assert_eq!(f.check_id, "oort-test-check-id");
        assert_eq!(f.title, "OORT Failing Check Event Test");
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(f.description, ["description1", "description2"]);
        assert_eq!(f.recommended_actions, ["action1", "action2"]);
        assert_eq!(f.occurred_at.to_rfc3339(), "2023-08-08T13:27:22.416+00:00");
        assert_eq!(f.attributes["detail_type"], "WebhookTest");
    }
    assert_ne!(findings[0].key(), findings[1].key());
}

#[test]
fn oort_event_listing_a_user_twice_makes_one_finding() {
    let body = br#"{"detail": {"checkId": "c", "title": "T", "severity": "high",
        "usersFailing": ["a@x.io", "A@X.io", "b@x.io"], "published": "2023-08-08T13:27:22Z"}}"#;
    let findings = ingest::parse(InputFormat::Oort, body).unwrap();
    assert_eq!(findings.len(), 2);
}

#[test]
fn approval_request_becomes_one_approval_finding() {
    let findings = ingest::parse(InputFormat::Approval, &fixture("approval_request.json")).unwrap();
    assert_eq!(findings.len(), 1);
    let f = &findings[0];
    assert_eq!(f.kind, FindingKind::Approval);
    assert_eq!(f.source, "threatlocker");
    assert_eq!(f.title, "Approval request: Notepad++ on FIN-LT-042");
    assert_eq!(f.severity, Severity::Medium);
    assert_eq!(f.subject.login, "dana.reyes@simubiz.com");
    let request = f.approval.as_ref().unwrap();
    assert_eq!(request.request_id, "a1b2c3d4");
    assert_eq!(request.publisher.as_deref(), Some("Notepad++ Team"));
    assert_eq!(
        request.justification.as_deref(),
        Some("I edit configuration files daily.")
    );
    assert_eq!(
        f.key().as_str(),
        "threatlocker/approval/a1b2c3d4/dana.reyes@simubiz.com"
    );
}

#[test]
fn each_format_is_recognised_in_a_mixed_file() {
    for (name, kind, count) in [
        ("karsch_generic.json", FindingKind::Check, 1),
        ("oort_webhook_test.json", FindingKind::Check, 2),
        ("approval_request.json", FindingKind::Approval, 1),
    ] {
        let findings = ingest::detect_and_parse(&fixture(name)).unwrap();
        assert_eq!(findings.len(), count, "{name}");
        assert!(findings.iter().all(|f| f.kind == kind), "{name}");
    }
    assert_eq!(
        ingest::detect_and_parse(br#"{"hello": 1}"#),
        Err(IngestError::UnknownFormat)
    );
}

#[test]
fn every_parse_error_names_the_field() {
    let generic = |extra: &str| {
        format!(
            r#"{{"source": "s", "check_id": "c", "title": "T", "severity": "high",
                "occurred_at": "2024-01-01T00:00:00Z", "subject": {{"login": "u"}}{extra}}}"#
        )
    };
    let cases: Vec<(InputFormat, String, &str)> = vec![
        (
            InputFormat::Oort,
            r#"{"detail": {"checkId": "c", "title": "T", "severity": "high",
                "usersFailing": ["a", "b", 5], "published": "2023-08-08T13:27:22Z"}}"#
                .to_owned(),
            "detail.usersFailing[2]: expected a string, found integer `5`",
        ),
        (
            InputFormat::Oort,
            r#"{"detail": {"title": "T", "severity": "high", "usersFailing": []}}"#.to_owned(),
            "detail.checkId: is required",
        ),
        (
            InputFormat::Oort,
            r#"{"detail": {"checkId": "c", "title": "T", "severity": "urgent",
                "usersFailing": ["a"], "published": "2023-08-08T13:27:22Z"}}"#
                .to_owned(),
            "detail.severity: unknown severity `urgent`",
        ),
        (
            InputFormat::Oort,
            r#"{"detail": {"checkId": "c", "title": "T", "severity": "low", "usersFailing": ["a", " "]}}"#
                .to_owned(),
            "detail.published: is required",
        ),
        (
            InputFormat::Oort,
            r#"{"detail": {"checkId": "c", "title": "T", "severity": "low",
                "usersFailing": ["a", " "], "published": "2023-08-08T13:27:22Z"}}"#
                .to_owned(),
            "detail.usersFailing[1]: must not be empty",
        ),
        (
            InputFormat::Generic,
            r#"{"source": "s", "check_id": "c", "severity": "high", "occurred_at": "2024-01-01T00:00:00Z"}"#
                .to_owned(),
            "title: is required",
        ),
        (InputFormat::Generic, generic(r#", "titel": "x""#), "titel: unknown field"),
        (
            InputFormat::Generic,
            generic(r#", "kind": "alert""#),
            "kind: unknown kind `alert`",
        ),
        (
            InputFormat::Generic,
            generic(r#", "attributes": []"#),
            "attributes: expected a map, found sequence",
        ),
        (
            InputFormat::Generic,
            r#"{"source": "s", "check_id": "c", "title": "T", "severity": "high",
                "occurred_at": "2024-01-01T00:00:00Z",
                "subject": {"login": "u", "ip_addresses": [{"address": "1.1.1.1"}, {"address": 7}]}}"#
                .to_owned(),
            "subject.ip_addresses[1].address: expected a string",
        ),
        (
            InputFormat::Generic,
            r#"{"source": "s", "check_id": "c", "title": "T", "severity": "high",
                "occurred_at": "yesterday", "subject": {"login": "u"}}"#
                .to_owned(),
            "occurred_at: `yesterday` is not an RFC 3339 time",
        ),
        (
            InputFormat::Generic,
            r#"{"source": "s", "check_id": "c", "title": "T", "severity": "high",
                "occurred_at": "2024-01-01T00:00:00Z", "subject": {"login": ""}}"#
                .to_owned(),
            "subject.login: must not be empty",
        ),
        (
            InputFormat::Generic,
            r#"{"source": "s", "kind": "approval", "title": "T", "severity": "high",
                "occurred_at": "2024-01-01T00:00:00Z"}"#
                .to_owned(),
            "approval: is required",
        ),
        (
            InputFormat::Generic,
            r#"{"source": "s", "kind": "approval", "title": "T", "severity": "high",
                "occurred_at": "2024-01-01T00:00:00Z", "approval": {"request_id": "r", "user": "u"}}"#
                .to_owned(),
            "approval.application: is required",
        ),
        (
            InputFormat::Approval,
            r#"{"source": "tl", "user": "u", "application": "a", "requested_at": "2024-01-01T00:00:00Z"}"#
                .to_owned(),
            "request_id: is required",
        ),
        (
            InputFormat::Approval,
            r#"{"source": "tl", "request_id": "r", "user": "u", "application": "a", "requested_at": 5}"#
                .to_owned(),
            "requested_at: expected a string, found integer `5`",
        ),
        (
            InputFormat::Generic,
            r#"{"source": "s",, }"#.to_owned(),
            "invalid JSON at line 1 column 16",
        ),
    ];
    for (format, body, expected) in cases {
        let err = ingest::parse(format, body.as_bytes())
            .expect_err(&format!("{format:?} {body} should fail"))
            .to_string();
        assert!(
            err.starts_with(expected),
            "{format:?} {body}\n  got:      {err}\n  expected: {expected}"
        );
    }
}

#[test]
fn finding_key_is_one_per_check_and_user_whatever_the_login_case() {
    let body = |login: &str, check: &str| {
        format!(
            r#"{{"source": "oort", "check_id": "{check}", "title": "T", "severity": "high",
                "occurred_at": "2024-01-01T00:00:00Z", "subject": {{"login": "{login}"}}}}"#
        )
    };
    let key = |login: &str, check: &str| {
        ingest::parse(InputFormat::Generic, body(login, check).as_bytes()).unwrap()[0].key()
    };
    assert_eq!(
        key("Karsch.Heuck@simubiz.com", "c1"),
        key("karsch.heuck@simubiz.com", "c1")
    );
    assert_ne!(
        key("karsch.heuck@simubiz.com", "c1"),
        key("karsch.heuck@simubiz.com", "c2")
    );
    assert_ne!(key("a@x.io", "c1"), key("b@x.io", "c1"));
    // A slash in a component cannot make two different findings share a key.
    assert_ne!(key("b", "a/x"), key("x/b", "a"));
    let correlation = key("a@x.io", "c1").correlation_id();
    let hex = correlation.strip_prefix("snowsync:").unwrap();
    assert_eq!(hex.len(), 32);
    assert!(hex.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(correlation, key("A@x.io", "c1").correlation_id());
}

#[test]
fn a_finding_survives_a_round_trip_through_its_stored_json() {
    let findings = ingest::parse(InputFormat::Approval, &fixture("approval_request.json")).unwrap();
    let stored = serde_json::to_string(&findings[0]).unwrap();
    let back: snowsync::domain::Finding = serde_json::from_str(&stored).unwrap();
    assert_eq!(back, findings[0]);
}
