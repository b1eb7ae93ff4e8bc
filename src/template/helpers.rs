//! Template helpers: `join`, `truncate`, `default`, `upper`, `date`; pure text functions
//! that never read files, the clock or the network.
//!
//! Each returns a value, so helpers nest: `{{truncate (join subject.used_factors) 40}}`.
//! In strict mode a misspelt variable is an error, except under `attributes.`, where
//! fields are free and may be absent (they read as empty, and `default` fills them).

use chrono::{DateTime, Utc};
use handlebars::{
    Context, Handlebars, Helper, HelperDef, PathAndJson, RenderContext, RenderError,
    RenderErrorReason, ScopedJson,
};
use serde_json::Value;

pub(super) fn register(registry: &mut Handlebars<'static>) {
    registry.register_helper("join", Box::new(Join));
    registry.register_helper("truncate", Box::new(Truncate));
    registry.register_helper("default", Box::new(Default));
    registry.register_helper("upper", Box::new(Upper));
    registry.register_helper("date", Box::new(Date));
}

/// The value of parameter `index`, `None` when it is an absent free attribute.
fn param<'a>(
    h: &'a Helper<'_>,
    helper: &'static str,
    index: usize,
) -> Result<Option<&'a Value>, RenderError> {
    let p: &PathAndJson<'_> = h
        .param(index)
        .ok_or(RenderErrorReason::ParamNotFoundForIndex(helper, index))?;
    if !p.is_value_missing() {
        return Ok(Some(p.value()));
    }
    match p.relative_path() {
        Some(path) if path.starts_with("attributes.") => Ok(None),
        path => Err(RenderErrorReason::MissingVariable(path.cloned()).into()),
    }
}

/// Text of a scalar; lists and objects as compact JSON.
fn text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    }
}

fn derived<'rc>(text: String) -> Result<ScopedJson<'rc>, RenderError> {
    Ok(ScopedJson::Derived(Value::String(text)))
}

/// `{{join list ", "}}`: the items of a list, separated (default `, `); nulls are skipped.
struct Join;

impl HelperDef for Join {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        let separator = match h.param(1) {
            Some(p) => text(p.value()),
            None => ", ".to_owned(),
        };
        let joined = match param(h, "join", 0)? {
            None | Some(Value::Null) => String::new(),
            Some(Value::Array(items)) => items
                .iter()
                .filter(|v| !v.is_null())
                .map(text)
                .collect::<Vec<_>>()
                .join(&separator),
            Some(other) => text(other),
        };
        derived(joined)
    }
}

/// `{{truncate text 80}}`: at most that many characters, cut at a character boundary.
struct Truncate;

impl HelperDef for Truncate {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        let full = param(h, "truncate", 0)?.map(text).unwrap_or_default();
        let max = param(h, "truncate", 1)?
            .and_then(Value::as_u64)
            .ok_or_else(|| {
                RenderErrorReason::ParamTypeMismatchForName(
                    "truncate",
                    "length".to_owned(),
                    "a whole number".to_owned(),
                )
            })?;
        let max = usize::try_from(max).unwrap_or(usize::MAX);
        derived(super::cut(&full, max).to_owned())
    }
}

/// `{{default value "N/A"}}`: the fallback when the value is null, empty or absent.
struct Default;

impl HelperDef for Default {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        let fallback = param(h, "default", 1)?.cloned().unwrap_or(Value::Null);
        let chosen = match param(h, "default", 0)? {
            None | Some(Value::Null) => fallback,
            Some(Value::String(s)) if s.trim().is_empty() => fallback,
            Some(Value::Array(a)) if a.is_empty() => fallback,
            Some(value) => value.clone(),
        };
        Ok(ScopedJson::Derived(chosen))
    }
}

/// `{{upper text}}`: upper case.
struct Upper;

impl HelperDef for Upper {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        let value = param(h, "upper", 0)?.map(text).unwrap_or_default();
        derived(value.to_uppercase())
    }
}

/// `{{date occurred_at "%Y-%m-%d"}}`: an RFC 3339 time in UTC, formatted with chrono's
/// `strftime` syntax; the default format is ServiceNow's `2022-09-18 16:08:55`.
struct Date;

impl HelperDef for Date {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        let format = match h.param(1) {
            Some(p) => text(p.value()),
            None => "%Y-%m-%d %H:%M:%S".to_owned(),
        };
        let value = match param(h, "date", 0)? {
            None | Some(Value::Null) => return derived(String::new()),
            Some(v) => text(v),
        };
        let time: DateTime<Utc> = DateTime::parse_from_rfc3339(&value)
            .map_err(|e| RenderErrorReason::Other(format!("date: `{value}` is not a time ({e})")))?
            .with_timezone(&Utc);
        let mut out = String::new();
        // chrono reports a bad format string as a formatting error instead of panicking.
        std::fmt::write(&mut out, format_args!("{}", time.format(&format)))
            .map_err(|_| RenderErrorReason::Other(format!("date: bad format `{format}`")))?;
        derived(out)
    }
}
