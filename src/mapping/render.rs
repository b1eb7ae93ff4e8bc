//! `snowsync render`: a dry run showing, for each finding of a file, the matched rule, the
//! profile and the exact fields that would be sent. Never contacts ServiceNow.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::json;

use super::{Mappings, TicketPlan, load, load_templates, plan};
use crate::domain::{Finding, SourceEvent};
use crate::ingest::{self, InputFormat};

/// Arguments of `snowsync render`.
#[derive(Debug, Clone, clap::Args)]
pub struct RenderArgs {
    /// The finding to render: a JSON document (generic finding, Oort event or approval request)
    #[arg(long, value_name = "FILE")]
    pub finding: PathBuf,
    /// The source event to plan for
    #[arg(long, value_enum, default_value_t = EventArg::Failing)]
    pub event: EventArg,
    /// The input format [default: recognised from the document]
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// How often the finding has failed (above 1, a failing event is an update)
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub occurrences: u64,
    /// Print one JSON object per finding instead of text
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EventArg {
    Failing,
    Resolved,
    Escalated,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    Generic,
    Oort,
    Approval,
}

/// Why `render` could not show a plan; every message names its file.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("{file}: cannot read: {message}")]
    Read { file: String, message: String },
    #[error("{file}: {source}")]
    Ingest {
        file: String,
        #[source]
        source: ingest::IngestError,
    },
    #[error(transparent)]
    Mapping(#[from] super::MappingError),
    #[error(transparent)]
    Template(#[from] super::TemplateError),
    #[error("{0}")]
    Templates(String),
    #[error(transparent)]
    Plan(#[from] super::PlanError),
}

/// Renders the plans for `args.finding` with the mappings and templates of the two
/// directories; returns the text to print.
pub fn run(
    rules_dir: &Path,
    templates_dir: &Path,
    args: &RenderArgs,
) -> Result<String, RenderError> {
    let file = args.finding.display().to_string();
    let body = std::fs::read(&args.finding).map_err(|e| RenderError::Read {
        file: file.clone(),
        message: e.to_string(),
    })?;
    let findings = match args.format {
        None => ingest::detect_and_parse(&body),
        Some(format) => ingest::parse(
            match format {
                FormatArg::Generic => InputFormat::Generic,
                FormatArg::Oort => InputFormat::Oort,
                FormatArg::Approval => InputFormat::Approval,
            },
            &body,
        ),
    }
    .map_err(|source| RenderError::Ingest {
        file: file.clone(),
        source,
    })?;
    let mappings = load(rules_dir)?;
    let templates = load_templates(templates_dir)?;
    let missing = mappings.verify_templates(&templates);
    if !missing.is_empty() {
        let lines: Vec<String> = missing.iter().map(ToString::to_string).collect();
        return Err(RenderError::Templates(lines.join("\n")));
    }
    let event = match args.event {
        EventArg::Failing => SourceEvent::Failing,
        EventArg::Resolved => SourceEvent::Resolved,
        EventArg::Escalated => SourceEvent::Escalated,
    };
    let mut out = String::new();
    if findings.is_empty() {
        out.push_str("no findings in the input (an Oort event with no failing users)\n");
    }
    for (i, finding) in findings.iter().enumerate() {
        let plan = plan(finding, event, args.occurrences, &mappings, &templates)?;
        if args.json {
            out.push_str(&json_line(finding, &plan));
        } else {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(&text(finding, &plan, &mappings));
        }
    }
    Ok(out)
}

fn json_line(finding: &Finding, plan: &TicketPlan) -> String {
    let references: serde_json::Map<String, serde_json::Value> = plan
        .references
        .iter()
        .map(|(field, (kind, name))| (field.clone(), json!({"kind": kind.as_str(), "name": name})))
        .collect();
    let line = json!({
        "finding_key": finding.key().as_str(),
        "rule": plan.rule,
        "profile": plan.profile,
        "table": plan.table,
        "correlation_id": plan.correlation_id,
        "fields": plan.fields,
        "references": references,
        "tags": plan.tags,
    });
    format!("{line}\n")
}

fn text(finding: &Finding, plan: &TicketPlan, mappings: &Mappings) -> String {
    let mut out = String::new();
    let rule_origin = mappings
        .rules()
        .iter()
        .chain(std::iter::once(mappings.default_rule()))
        .find(|r| r.name == plan.rule)
        .map(|r| r.origin.as_str())
        .unwrap_or("");
    let profile_origin = mappings
        .profile(&plan.profile)
        .map(super::Profile::origin)
        .unwrap_or_default();
    let _ = writeln!(out, "finding:        {}", finding.key());
    let _ = writeln!(out, "rule:           {} ({rule_origin})", plan.rule);
    let _ = writeln!(out, "profile:        {} ({profile_origin})", plan.profile);
    let _ = writeln!(out, "table:          {}", plan.table);
    let _ = writeln!(out, "correlation_id: {}", plan.correlation_id);
    if plan.references.is_empty() {
        let _ = writeln!(out, "references:     none");
    } else {
        let _ = writeln!(out, "references:     (looked up by name, sent as sys_ids)");
        for (field, (kind, name)) in &plan.references {
            let _ = writeln!(
                out,
                "  {field} = {} `{name}` in {}",
                kind.as_str(),
                kind.table()
            );
        }
    }
    let tags = if plan.tags.is_empty() {
        "none".to_owned()
    } else {
        plan.tags.join(", ")
    };
    let _ = writeln!(out, "tags:           {tags}");
    let _ = writeln!(out, "payload:");
    let body = serde_json::to_string_pretty(&plan.fields).unwrap_or_default();
    let _ = writeln!(out, "{body}");
    for (field, value) in &plan.fields {
        if let Some(text) = value.as_str().filter(|t| t.contains('\n')) {
            let _ = writeln!(out, "--- {field} (as it reads in ServiceNow) ---");
            let _ = writeln!(out, "{text}");
        }
    }
    out
}
