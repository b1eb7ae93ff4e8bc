//! The mappings: the rules in the order they are tried (file:line), the profiles they
//! choose, and the tester: a finding pasted in any input format, shown as the rule, the
//! profile and the exact fields that would be sent (`snowsync render` in a form). Read-only.

use axum::Form;
use axum::extract::State;
use maud::{Markup, html};
use serde::Deserialize;

use super::layout::{self, Section, csrf};
use super::{Operator, UiError};
use crate::admin::dry_run::{self, PlanView};
use crate::admin::mappings::MappingsView;
use crate::api::AppState;
use crate::domain::SourceEvent;
use crate::ingest::InputFormat;

/// What the tester was given, kept to show the form again as it was sent.
#[derive(Debug, Default, Deserialize)]
pub struct TestForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    document: String,
    /// `auto` or an input format.
    #[serde(default)]
    format: String,
    #[serde(default)]
    event: String,
}

/// What the tester found.
enum Tested {
    Plans(Vec<PlanView>),
    Refused(String),
}

/// `GET /ui/mappings`.
pub async fn page(State(state): State<AppState>, operator: Operator) -> Markup {
    render(&state, &operator, &TestForm::default(), None)
}

/// `POST /ui/mappings`: the tester.
pub async fn test(
    State(state): State<AppState>,
    operator: Operator,
    Form(form): Form<TestForm>,
) -> Result<Markup, UiError> {
    operator.check_csrf(&form.csrf)?;
    let tested = match run(&state, &form) {
        Ok(plans) => Tested::Plans(plans),
        Err(why) => Tested::Refused(why),
    };
    Ok(render(&state, &operator, &form, Some(tested)))
}

fn run(state: &AppState, form: &TestForm) -> Result<Vec<PlanView>, String> {
    let format = match form.format.as_str() {
        "" | "auto" => None,
        text => Some(text.parse::<InputFormat>().map_err(|e| e.to_string())?),
    };
    let event = match form.event.as_str() {
        "" => SourceEvent::Failing,
        text => text.parse::<SourceEvent>().map_err(|e| e.to_string())?,
    };
    let pipeline = state.intake.pipeline.current();
    let mappings = &pipeline.mappings;
    let rendered = dry_run::plans(
        form.document.as_bytes(),
        format,
        event,
        1,
        mappings,
        &pipeline.templates,
    )
    .map_err(|e| e.to_string())?;
    Ok(rendered
        .into_iter()
        .map(|r| PlanView::new(r, mappings))
        .collect())
}

fn render(
    state: &AppState,
    operator: &Operator,
    form: &TestForm,
    tested: Option<Tested>,
) -> Markup {
    let view = MappingsView::new(&state.intake.pipeline.current().mappings);
    let body = html! {
        p.muted { "Read from " (view.files.join(", ")) ". Mappings are files under version control: change them there; this page reads and tests them." }
        h2 { "Rules, in the order they are tried" }
        table #rules {
            tr { th.num { "#" } th { "rule" } th { "where" } th { "when" } th { "profile" } }
            @for rule in &view.rules {
                tr {
                    td.num { (rule.position) }
                    td { (rule.name) @if rule.default { " " span.muted { "(default)" } } }
                    td { code { (rule.origin) } }
                    td {
                        @if rule.conditions.is_empty() { span.muted { "always" } }
                        @for c in &rule.conditions { div { (c) } }
                    }
                    td { a href={ "#profile-" (rule.profile) } { (rule.profile) } }
                }
            }
        }
        h2 { "Profiles" }
        table #profiles {
            tr { th { "profile" } th { "where" } th { "table" } th { "impact, urgency" } th { "group" } th { "caller" } th { "states" } th { "tags" } th { "custom fields" } }
            @for p in &view.profiles {
                tr id={ "profile-" (p.name) } {
                    td { (p.name) }
                    td { code { (p.origin) } }
                    td { (p.table) }
                    td { (p.levels) }
                    td { (p.assignment_group.as_deref().unwrap_or("-")) }
                    td { (p.caller) }
                    td {
                        div { "create: " (p.state.as_deref().unwrap_or("instance default")) }
                        div { "close: " (p.auto_close_state) }
                        div { "escalate: " (p.escalation_state) }
                    }
                    td { (p.tags.join(", ")) }
                    td { (p.custom_fields.join(", ")) }
                }
            }
        }
        h2 #tester { "Tester" }
        p.muted { "Paste a finding as a source sends it: a generic finding, an Oort event or an approval request. Nothing is stored or sent." }
        form method="post" action="/ui/mappings#tester" {
            (csrf(operator))
            textarea name="document" id="document" placeholder="{\"source\": \"oort\", \"check_id\": …}" { (form.document) }
            div.filters {
                label { "Format"
                    select name="format" id="format" {
                        option value="auto" { "recognise" }
                        @for f in InputFormat::ALL {
                            option value=(f) selected[form.format == f.as_str()] { (f) }
                        }
                    }
                }
                label { "Event"
                    select name="event" id="event" {
                        @for e in SourceEvent::ALL {
                            option value=(e) selected[form.event == e.as_str()] { (e) }
                        }
                    }
                }
                button #render type="submit" { "Show the ticket" }
            }
        }
        @match tested {
            None => {}
            Some(Tested::Refused(why)) => p.error #tester-error { (why) },
            Some(Tested::Plans(plans)) => {
                @if plans.is_empty() {
                    p.notice #tester-result { "No findings in the document (an Oort event with no failing users)." }
                }
                @for plan in &plans {
                    div.tester-result {
                        dl.facts {
                            dt { "finding" } dd { code { (plan.finding_key) } }
                            dt { "rule" } dd #tested-rule { (plan.rule) " " code { (plan.rule_origin) } }
                            dt { "profile" } dd #tested-profile { (plan.profile) " " code { (plan.profile_origin) } }
                            dt { "table" } dd { (plan.table) }
                            dt { "correlation id" } dd { code { (plan.correlation_id) } }
                            dt { "tags" } dd { (plan.tags.join(", ")) }
                        }
                        @if !plan.references.is_empty() {
                            h2 { "Looked up by name at delivery" }
                            table {
                                tr { th { "field" } th { "kind" } th { "table" } th { "name" } }
                                @for (field, r) in &plan.references {
                                    tr { td { (field) } td { (r.kind) } td { (r.table) } td { (r.name) } }
                                }
                            }
                        }
                        h2 { "Fields sent" }
                        table.fields {
                            tr { th { "field" } th { "value" } }
                            @for (field, value) in &plan.fields {
                                tr {
                                    td { code { (field) } }
                                    td { pre { (value.as_str().map(str::to_owned).unwrap_or_else(|| value.to_string())) } }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    layout::page("Mappings", Section::Mappings, operator, body)
}
