//! The task tables' columns: what `task` defines, what incident, sc_request and
//! sn_si_incident add, and the key order of the recorded responses. Data only.

use super::Kind;
use super::fields::{NUM, STR, Spec};

use Kind::{
    Boolean as B, Currency as Cur, DateTime as Dt, DocumentId as Doc, DomainId as Dom,
    DueDate as Due, Duration as Dur, GlideList as Gl, Guid, Integer as Int, Journal as J,
    JournalList as Jl, Reference as Ref, String as S, SysClassName as Scn,
};

/// Fields defined on `task`, inherited by incident and sc_request.
pub(super) const TASK: &[Spec] = &[
    ("parent", "Parent", Ref("task"), 32),
    ("made_sla", "Made SLA", B, 40),
    ("watch_list", "Watch list", Gl, 4000),
    ("upon_reject", "Upon reject", STR, 40),
    ("sys_updated_on", "Updated", Dt, 40),
    ("task_effective_number", "Effective number", S, 40),
    ("approval_history", "Approval history", J, 4000),
    ("number", "Number", S, 40),
    ("sys_updated_by", "Updated by", S, 40),
    ("opened_by", "Opened by", Ref("sys_user"), 32),
    ("user_input", "User input", S, 4000),
    ("sys_created_on", "Created", Dt, 40),
    ("sys_domain", "Domain", Dom, 32),
    ("state", "State", NUM, 40),
    ("route_reason", "Route reason", NUM, 40),
    ("sys_created_by", "Created by", S, 40),
    ("knowledge", "Knowledge", B, 40),
    ("order", "Order", Int, 40),
    ("calendar_stc", "Duration", Int, 40),
    ("closed_at", "Closed", Dt, 40),
    ("cmdb_ci", "Configuration item", Ref("cmdb_ci"), 32),
    (
        "delivery_plan",
        "Delivery plan",
        Ref("sc_cat_item_delivery_plan"),
        32,
    ),
    ("contract", "Contract", Ref("ast_contract"), 32),
    ("impact", "Impact", NUM, 40),
    ("active", "Active", B, 40),
    ("work_notes_list", "Work notes list", Gl, 4000),
    ("business_service", "Service", Ref("cmdb_ci_service"), 32),
    ("priority", "Priority", NUM, 40),
    ("sys_domain_path", "Domain Path", S, 255),
    ("time_worked", "Time worked", Dur, 40),
    ("expected_start", "Expected start", Dt, 40),
    ("opened_at", "Opened", Dt, 40),
    ("business_duration", "Business duration", Dur, 40),
    ("group_list", "Group list", Gl, 4000),
    ("work_end", "Actual end", Dt, 40),
    ("approval_set", "Approval set", Dt, 40),
    ("work_notes", "Work notes", J, 4000),
    ("universal_request", "Universal Request", Ref("task"), 32),
    ("short_description", "Short description", S, 160),
    ("correlation_display", "Correlation display", S, 100),
    ("delivery_task", "Delivery task", Ref("planned_task"), 32),
    ("work_start", "Actual start", Dt, 40),
    (
        "assignment_group",
        "Assignment group",
        Ref("sys_user_group"),
        32,
    ),
    (
        "additional_assignee_list",
        "Additional assignee list",
        Gl,
        4000,
    ),
    ("description", "Description", S, 4000),
    ("calendar_duration", "Duration", Dur, 40),
    ("close_notes", "Close notes", S, 4000),
    (
        "service_offering",
        "Service offering",
        Ref("service_offering"),
        32,
    ),
    ("sys_class_name", "Task type", Scn, 80),
    ("closed_by", "Closed by", Ref("sys_user"), 32),
    ("follow_up", "Follow up", Dt, 40),
    ("sys_id", "Sys ID", Guid, 32),
    ("contact_type", "Channel", STR, 40),
    ("urgency", "Urgency", NUM, 40),
    ("company", "Company", Ref("core_company"), 32),
    ("reassignment_count", "Reassignment count", Int, 40),
    ("activity_due", "Activity due", Dt, 40),
    ("assigned_to", "Assigned to", Ref("sys_user"), 32),
    ("comments", "Additional comments", J, 4000),
    ("approval", "Approval", STR, 40),
    ("sla_due", "SLA due", Due, 40),
    (
        "comments_and_work_notes",
        "Comments and Work notes",
        Jl,
        4000,
    ),
    ("due_date", "Due date", Dt, 40),
    ("sys_mod_count", "Updates", Int, 40),
    ("sys_tags", "Tags", S, 4000),
    ("escalation", "Escalation", NUM, 40),
    ("upon_approval", "Upon approval", STR, 40),
    ("correlation_id", "Correlation ID", S, 100),
    ("location", "Location", Ref("cmn_location"), 32),
];

/// Fields defined on `incident` itself.
pub(super) const INCIDENT: &[Spec] = &[
    ("caused_by", "Caused by Change", Ref("change_request"), 32),
    ("child_incidents", "Child Incidents", Int, 40),
    ("hold_reason", "On hold reason", NUM, 40),
    ("origin_table", "Origin table", S, 80),
    ("resolved_by", "Resolved by", Ref("sys_user"), 32),
    ("business_impact", "Business impact", S, 4000),
    ("rfc", "Change Request", Ref("change_request"), 32),
    ("caller_id", "Caller", Ref("sys_user"), 32),
    ("reopened_time", "Last reopened at", Dt, 40),
    ("resolved_at", "Resolved", Dt, 40),
    ("subcategory", "Subcategory", STR, 40),
    ("close_code", "Resolution code", STR, 40),
    ("business_stc", "Business resolve time", Int, 40),
    ("cause", "Probable cause", S, 4000),
    ("origin_id", "Origin", Doc, 32),
    ("notify", "Notify", NUM, 40),
    ("parent_incident", "Parent Incident", Ref("incident"), 32),
    ("reopened_by", "Last reopened by", Ref("sys_user"), 32),
    ("incident_state", "Incident state", NUM, 40),
    ("problem_id", "Problem", Ref("problem"), 32),
    ("severity", "Severity", NUM, 40),
    ("reopen_count", "Reopen count", Int, 40),
    ("category", "Category", STR, 40),
];

/// The custom fields an administrator added to incident: String fields a mapping may fill,
/// one reference and one integer that it must not treat as String.
pub(super) const INCIDENT_CUSTOM: &[Spec] = &[
    ("u_finding_key", "Finding key", S, 255),
    ("u_source", "Source", S, 40),
    ("u_source_url", "Source URL", S, 1024),
    ("u_check_id", "Check ID", S, 100),
    ("u_affected_user", "Affected user", Ref("sys_user"), 32),
    ("u_occurrences", "Occurrences", Int, 40),
];

/// The recorded incident's key order.
#[rustfmt::skip]
pub(super) const INCIDENT_ORDER: &[&str] = &[
    "parent", "made_sla", "caused_by", "watch_list", "upon_reject", "sys_updated_on",
    "child_incidents", "hold_reason", "origin_table", "task_effective_number",
    "approval_history", "number", "resolved_by", "sys_updated_by", "opened_by", "user_input",
    "sys_created_on", "sys_domain", "state", "route_reason", "sys_created_by", "knowledge",
    "order", "calendar_stc", "closed_at", "cmdb_ci", "delivery_plan", "contract", "impact",
    "active", "work_notes_list", "business_service", "business_impact", "priority",
    "sys_domain_path", "rfc", "time_worked", "expected_start", "opened_at", "business_duration",
    "group_list", "work_end", "caller_id", "reopened_time", "resolved_at", "approval_set",
    "subcategory", "work_notes", "universal_request", "short_description", "close_code",
    "correlation_display", "delivery_task", "work_start", "assignment_group",
    "additional_assignee_list", "business_stc", "cause", "description", "origin_id",
    "calendar_duration", "close_notes", "notify", "service_offering", "sys_class_name",
    "closed_by", "follow_up", "parent_incident", "sys_id", "contact_type", "reopened_by",
    "incident_state", "urgency", "problem_id", "company", "reassignment_count", "activity_due",
    "assigned_to", "severity", "comments", "approval", "sla_due", "comments_and_work_notes",
    "due_date", "sys_mod_count", "reopen_count", "sys_tags", "escalation", "upon_approval",
    "correlation_id", "location", "category",
];

/// Fields defined on `sc_request` itself.
pub(super) const SC_REQUEST: &[Spec] = &[
    ("delivery_address", "Delivery address", S, 4000),
    ("requested_for", "Requested for", Ref("sys_user"), 32),
    ("price", "Price", Cur, 20),
    ("special_instructions", "Special instructions", S, 4000),
    (
        "parent_interaction",
        "Parent Interaction",
        Ref("interaction"),
        32,
    ),
    ("requested_date", "Due date", Dt, 40),
    ("request_state", "Request state", STR, 40),
    ("stage", "Stage", STR, 40),
];

/// The recorded sc_request's key order.
#[rustfmt::skip]
pub(super) const SC_REQUEST_ORDER: &[&str] = &[
    "parent", "delivery_address", "made_sla", "watch_list", "upon_reject", "requested_for",
    "sys_updated_on", "task_effective_number", "approval_history", "number", "sys_updated_by",
    "opened_by", "user_input", "price", "sys_created_on", "sys_domain", "state", "route_reason",
    "sys_created_by", "knowledge", "order", "calendar_stc", "special_instructions", "closed_at",
    "cmdb_ci", "delivery_plan", "contract", "impact", "active", "work_notes_list",
    "business_service", "priority", "sys_domain_path", "time_worked", "expected_start",
    "opened_at", "business_duration", "group_list", "work_end", "approval_set", "work_notes",
    "universal_request", "short_description", "correlation_display", "delivery_task",
    "work_start", "assignment_group", "parent_interaction", "additional_assignee_list",
    "description", "calendar_duration", "close_notes", "service_offering", "sys_class_name",
    "closed_by", "follow_up", "sys_id", "contact_type", "urgency", "requested_date", "company",
    "reassignment_count", "activity_due", "assigned_to", "comments", "approval", "sla_due",
    "comments_and_work_notes", "due_date", "sys_mod_count", "sys_tags", "request_state", "stage",
    "escalation", "upon_approval", "correlation_id", "location",
];

/// Fields defined on `sn_si_incident` (Security Incident Response) itself, as far as they are
/// known: the labels are those of ServiceNow's documentation of the security incident form
/// ("Affected user", "Business impact", "Risk score", "Close code"); the column names are
/// those third-party integrations use (demisto/content's ServiceNow v2 reads `affected_user`,
/// `business_criticality` and `risk_score`). No response of a real security incident was
/// recorded, so the key order is task's followed by these.
pub(super) const SECURITY_INCIDENT: &[Spec] = &[
    ("affected_user", "Affected user", Ref("sys_user"), 32),
    ("category", "Category", STR, 40),
    ("subcategory", "Subcategory", STR, 40),
    ("business_criticality", "Business impact", NUM, 40),
    ("risk_score", "Risk score", Int, 40),
    ("close_code", "Close code", STR, 40),
];
