//! The offline half of `snowsync check`: mappings load, templates compile, every profile's
//! templates exist and render for sample findings. Prints nothing itself; returns lines.

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};

use super::group::{Group, GroupChange, plan_group_selected};
use super::plan::{FieldLengths, PlanError, plan_selected};
use super::profile::Table;
use super::{Mappings, Selection, load_all, load_templates_or_starter};
use crate::config::MappingConfig;
use crate::domain::{
    APPROVAL_CHECK_ID, ApprovalRequest, Finding, FindingKind, IpAddress, Severity, SourceEvent,
    Subject,
};
use crate::template::Templates;

/// The outcome of the offline checks: `ok   …` and `FAIL …` lines.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub lines: Vec<String>,
    pub failed: bool,
    /// The mappings, when they loaded, for the checks against the instance.
    pub mappings: Option<Mappings>,
}

impl Report {
    fn ok(&mut self, text: String) {
        self.lines.push(format!("ok   {text}"));
    }

    fn fail(&mut self, text: String) {
        self.failed = true;
        self.lines.push(format!("FAIL {text}"));
    }

    fn warn(&mut self, text: String) {
        self.lines.push(format!("warn {text}"));
    }
}

/// Loads the mappings (the admin's, then the shipped ones) and templates as the service
/// does, reports every problem of every file and every rule an earlier rule shadows, and
/// renders every profile for every event.
pub fn offline(config: &MappingConfig) -> Report {
    let mut report = Report::default();
    let mappings = match load_all(
        config.local_rules_dir.as_deref(),
        config.rules_dir.as_deref(),
    ) {
        Ok(m) => {
            report.ok(format!(
                "mappings: {} rule(s) and the default rule, {} profile(s) from {}",
                m.rules().len(),
                m.profiles().count(),
                m.files().join(", ")
            ));
            for shadowed in m.shadowed() {
                report.warn(shadowed.to_string());
            }
            Some(m)
        }
        Err(errors) => {
            for e in errors {
                report.fail(e.to_string());
            }
            None
        }
    };
    let templates = match load_templates_or_starter(config.templates_dir.as_deref()) {
        Ok(t) => {
            report.ok(format!(
                "templates: {} compiled from {} ({})",
                t.names().count(),
                t.dir().display(),
                t.names().collect::<Vec<_>>().join(", ")
            ));
            Some(t)
        }
        Err(e) => {
            report.fail(e.to_string());
            None
        }
    };
    if let (Some(mappings), Some(templates)) = (&mappings, templates) {
        let missing = mappings.verify_templates(&templates);
        for problem in &missing {
            report.fail(problem.to_string());
        }
        if missing.is_empty() {
            render_profiles(mappings, &templates, &mut report);
        }
    }
    report.mappings = mappings;
    report
}

/// Renders each profile for each event with a sample finding of its kind, so that a
/// misspelt variable fails here rather than on the first real finding.
fn render_profiles(mappings: &Mappings, templates: &Templates, report: &mut Report) {
    for profile in mappings.profiles() {
        let finding = match profile.table {
            Table::Incident | Table::SecurityIncident => sample_check_finding(),
            Table::ScRequest => sample_approval_finding(),
        };
        let selection = Selection {
            rule: mappings.default_rule(),
            profile,
        };
        let events = [
            (SourceEvent::Failing, 1),
            (SourceEvent::Failing, 2),
            (SourceEvent::Resolved, 2),
            (SourceEvent::Escalated, 2),
        ];
        let lengths = FieldLengths::default();
        let errors: Vec<String> = if profile.groups_by_check() {
            render_group(&finding, selection, templates, &lengths)
        } else {
            events
                .iter()
                .filter_map(|(event, n)| {
                    plan_selected(&finding, selection, *event, *n, templates, &lengths).err()
                })
                .collect()
        }
        .into_iter()
        .map(|e| e.to_string())
        .collect();
        if errors.is_empty() {
            report.ok(format!(
                "profile {} ({}): renders for failing, repeat, resolved and escalated",
                profile.name,
                profile.table.as_str()
            ));
        }
        for error in errors {
            report.fail(error);
        }
    }
}

/// The errors of a grouped profile's templates, rendered for every change of a group of
/// two sample subjects.
fn render_group(
    finding: &Finding,
    selection: Selection<'_>,
    templates: &Templates,
    lengths: &FieldLengths,
) -> Vec<PlanError> {
    let mut second = finding.clone();
    second.subject.login = "second.user@example.com".to_owned();
    second.subject.email = Some(second.subject.login.clone());
    let members = [finding.clone(), second];
    let joined = [members[1].subject.login.clone()];
    let passing = [finding.subject.login.clone()];
    let changes = [
        GroupChange::Create {
            note: Some("note".to_owned()),
        },
        GroupChange::Update,
        GroupChange::Close,
        GroupChange::Escalate,
    ];
    changes
        .iter()
        .filter_map(|change| {
            let listed: &[Finding] = match change {
                GroupChange::Close => &[],
                _ => &members,
            };
            let group = Group {
                generation: 2,
                members: listed,
                joined: &joined,
                passing: &passing,
                about: finding,
                continues: Some("INC0010001"),
            };
            plan_group_selected(&group, change, selection, templates, lengths).err()
        })
        .collect()
}

/// The finding of the Oort "Example Ticket Description with End User Digest".
pub fn sample_check_finding() -> Finding {
    let ip = |address: &str, location: &str| IpAddress {
        address: address.to_owned(),
        location: Some(location.to_owned()),
    };
    let strings = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    Finding {
        source: "oort".to_owned(),
        kind: FindingKind::Check,
        check_id: "ip-threat-detected".to_owned(),
        title: "IP Threat Detected".to_owned(),
        severity: Severity::High,
        subject: Subject {
            login: "karsch.heuck@simubiz.com".to_owned(),
            email: None,
            display_name: Some("Karsch Heuck".to_owned()),
            status: Some("ACTIVE".to_owned()),
            user_type: Some("INTERNAL".to_owned()),
            manager: None,
            phone: None,
            ip_addresses: vec![
                ip("2600:1017:b808:d190:4641:e114:b3a1:430a", "US:New York:New York"),
                ip("2601:280:5b7f:4cf0:d17a:44b4:6c75:4e4", "US:Arvada:Colorado"),
                ip("50.229.84.62", "US:Stamford:Connecticut"),
                ip("24.38.70.198", "US:Belleville:New Jersey"),
                ip("198.55.26.62", "US:Stamford:Connecticut"),
            ],
            used_applications: strings(&[
                "cisco asa vpn (burlington)",
                "Oort Corp Okta instance",
                "logmein rescue",
                "atlassian cloud",
                "microsoft office 365 for simubiz",
            ]),
            unused_applications: Vec::new(),
            used_factors: strings(&["push", "totp"]),
            last_sign_in_location: Some("US".to_owned()),
        },
        description: Vec::new(),
        recommended_actions: strings(&[
            "We recommend contacting the end-user to purge the machine originating the traffic. We only tag successful logins to reduce false positives.",
        ]),
        link: Some(
            "https://dashboard.ci.oort.io/go?org=Hh8hsedcx4CqYJOp&type=users&login=karsch.heuck%40simubiz.com"
                .to_owned(),
        ),
        occurred_at: Utc.with_ymd_and_hms(2022, 9, 18, 16, 8, 55).single().unwrap_or_default(),
        attributes: BTreeMap::new(),
        approval: None,
    }
}

/// An application approval request, every field filled.
pub fn sample_approval_finding() -> Finding {
    let request = ApprovalRequest {
        request_id: "sample-request-1".to_owned(),
        computer: Some("FIN-LT-042".to_owned()),
        user: "dana.reyes@simubiz.com".to_owned(),
        application: "Notepad++".to_owned(),
        path: Some(r"C:\Users\dana\Downloads\npp.8.6.Installer.x64.exe".to_owned()),
        hash: Some("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".to_owned()),
        publisher: Some("Notepad++ Team".to_owned()),
        requested_action: Some("install".to_owned()),
        justification: Some("I edit configuration files daily.".to_owned()),
    };
    Finding {
        source: "threatlocker".to_owned(),
        kind: FindingKind::Approval,
        check_id: APPROVAL_CHECK_ID.to_owned(),
        title: "Approval request: Notepad++ on FIN-LT-042".to_owned(),
        severity: Severity::Medium,
        subject: Subject {
            login: request.user.clone(),
            display_name: Some("Dana Reyes".to_owned()),
            ..Subject::default()
        },
        description: Vec::new(),
        recommended_actions: Vec::new(),
        link: Some("https://portal.example.com/approvals/sample-request-1".to_owned()),
        occurred_at: Utc
            .with_ymd_and_hms(2024, 5, 2, 9, 30, 0)
            .single()
            .unwrap_or_default(),
        attributes: BTreeMap::new(),
        approval: Some(request),
    }
}
