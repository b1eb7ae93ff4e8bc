//! `snowsync render`: a dry run showing, for each finding of a file, the matched rule, the
//! profile and the exact fields that would be sent. Never contacts ServiceNow.

use std::fmt::Write as _;
use std::path::PathBuf;

use serde_json::json;

use crate::admin::dry_run::DryRunError;
use crate::domain::SourceEvent;
use crate::ingest::{self, InputFormat};
use crate::mapping::{Mappings, PlanError, TicketPlan};
use crate::pipeline::Pipeline;

/// Arguments of `snowsync render`.
#[derive(Debug, Clone, clap::Args)]
pub struct RenderArgs {
    /// The finding to render: a JSON document (generic finding, Oort event or approval request)
    #[arg(long, value_name = "FILE", required_unless_present = "variables")]
    pub finding: Option<PathBuf>,
    /// List every variable templates can use, with an example value, and exit
    #[arg(long, conflicts_with = "finding")]
    pub variables: bool,
    /// The source event to plan for
    #[arg(long, value_enum, default_value_t = SourceEvent::Failing)]
    pub event: SourceEvent,
    /// The input format [default: recognised from the document]
    #[arg(long, value_enum)]
    pub format: Option<InputFormat>,
    /// How often the finding has failed (above 1, a failing event is an update)
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub occurrences: u64,
    /// Print one JSON object per finding instead of text
    #[arg(long)]
    pub json: bool,
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
    Plan(#[from] PlanError),
}

/// Renders the plans for `args.finding` with the pipeline's mappings and templates;
/// returns the text to print.
pub fn run(pipeline: &Pipeline, args: &RenderArgs) -> Result<String, RenderError> {
    let Some(path) = &args.finding else {
        return Ok(super::variables::listing());
    };
    let file = path.display().to_string();
    let body = std::fs::read(path).map_err(|e| RenderError::Read {
        file: file.clone(),
        message: e.to_string(),
    })?;
    let rendered = crate::admin::dry_run::plans(
        &body,
        args.format,
        args.event,
        args.occurrences,
        &pipeline.mappings,
        &pipeline.templates,
    )
    .map_err(|e| match e {
        DryRunError::Ingest(source) => RenderError::Ingest {
            file: file.clone(),
            source,
        },
        DryRunError::Plan(e) => RenderError::Plan(e),
    })?;
    let mut out = String::new();
    if rendered.is_empty() {
        out.push_str("no findings in the input (an Oort event with no failing users)\n");
    }
    for (i, one) in rendered.iter().enumerate() {
        if args.json {
            out.push_str(&json_line(&one.finding_key, &one.plan));
        } else {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(&text(&one.finding_key, &one.plan, &pipeline.mappings));
        }
    }
    Ok(out)
}

fn json_line(finding_key: &str, plan: &TicketPlan) -> String {
    let references: serde_json::Map<String, serde_json::Value> = plan
        .references
        .iter()
        .map(|(field, (kind, name))| (field.clone(), json!({"kind": kind.as_str(), "name": name})))
        .collect();
    let line = json!({
        "finding_key": finding_key,
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

fn text(finding_key: &str, plan: &TicketPlan, mappings: &Mappings) -> String {
    let mut out = String::new();
    let (rule_origin, profile_origin) = crate::admin::dry_run::origins(plan, mappings);
    let _ = writeln!(out, "finding:        {finding_key}");
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
    if let Some(e) = &plan.enrichment {
        let whom = if e.members.is_empty() {
            format!("the sys_user record of `{}`", e.user)
        } else {
            format!(
                "the sys_user records of the {} members listed",
                e.members.len()
            )
        };
        let _ = writeln!(
            out,
            "enrichment:     {} completed at delivery from {whom} (shown here as the source sent it)",
            e.field
        );
    }
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
