//! Handlebars templates for ticket text: the registry (strict, no HTML escaping, our
//! helpers), loading `templates/*.hbs` once at start, and rendering a finding's context.
//!
//! Templates only turn data into text. They never see ServiceNow, and text from a finding
//! is only ever a value: it is printed, never compiled, so `{{` in a user name stays text.

mod context;
mod helpers;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use handlebars::{Context, Handlebars, RenderContext, RenderErrorReason, Renderable, StringOutput};

pub use context::{ContextInfo, context, source_label};

/// The templates every default profile uses, by name (the file stem).
pub const SHORT_DESCRIPTION: &str = "short_description";
pub const DESCRIPTION: &str = "description";
pub const WORK_NOTE: &str = "work_note";
pub const CLOSE_NOTES: &str = "close_notes";
pub const APPROVAL_DESCRIPTION: &str = "approval_description";
/// The templates of a profile grouping by check (one ticket listing the failing subjects).
pub const GROUP_SHORT_DESCRIPTION: &str = "group_short_description";
pub const GROUP_DESCRIPTION: &str = "group_description";
pub const GROUP_WORK_NOTE: &str = "group_work_note";
pub const GROUP_CLOSE_NOTES: &str = "group_close_notes";

/// A template that does not load, compile or render, with the file (or mapping key),
/// the line and column when known, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {message}")]
pub struct TemplateError {
    /// `templates/description.hbs:12:5`, or `mappings/x.toml: profile.y.fields.u_z`.
    pub origin: String,
    pub message: String,
}

/// Every template of a directory, compiled once.
pub struct Templates {
    registry: Handlebars<'static>,
    dir: PathBuf,
    files: BTreeMap<String, PathBuf>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates")
            .field("dir", &self.dir)
            .field("names", &self.files.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// A template compiled from a mapping file (a custom field's value), rendered with the
/// helpers of [`Templates`].
#[derive(Debug, Clone)]
pub struct InlineTemplate {
    source: String,
    compiled: handlebars::Template,
}

impl InlineTemplate {
    /// Compiles `source`; the error message carries the line and column within it.
    pub fn compile(source: &str) -> Result<Self, String> {
        let compiled = handlebars::Template::compile(source).map_err(describe_template_error)?;
        Ok(Self {
            source: source.to_owned(),
            compiled,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }
}

/// Loads and compiles every `*.hbs` file of `dir`; each is named by its file stem.
pub fn load_templates(dir: &Path) -> Result<Templates, TemplateError> {
    let shown = crate::config::paths::absolute(Path::new("."), dir)
        .display()
        .to_string();
    let entries = std::fs::read_dir(dir).map_err(|e| TemplateError {
        origin: shown.clone(),
        message: format!("cannot read the templates directory: {e}"),
    })?;
    let mut paths: Vec<PathBuf> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| TemplateError {
            origin: shown.clone(),
            message: format!("cannot list the templates directory: {e}"),
        })?;
        let path = entry.path();
        if path.extension().is_some_and(|x| x == "hbs") && path.is_file() {
            paths.push(path);
        }
    }
    paths.sort();
    let mut sources = Vec::new();
    for path in paths {
        let origin = path.display().to_string();
        let Some(name) = path.file_stem().and_then(|s| s.to_str()) else {
            return Err(TemplateError {
                origin,
                message: "the file name is not valid UTF-8".to_owned(),
            });
        };
        let text = std::fs::read_to_string(&path).map_err(|e| TemplateError {
            origin: origin.clone(),
            message: format!("cannot read: {e}"),
        })?;
        sources.push((name.to_owned(), path.clone(), text));
    }
    if sources.is_empty() {
        return Err(TemplateError {
            origin: shown,
            message: "no *.hbs templates found".to_owned(),
        });
    }
    compile_all(dir.to_owned(), sources)
}

/// The templates of `dir`, or the starter templates built into the binary when `None`.
pub fn load_templates_or_starter(dir: Option<&Path>) -> Result<Templates, TemplateError> {
    match dir {
        Some(dir) => load_templates(dir),
        None => compile_all(
            PathBuf::from("(built-in) templates"),
            crate::starter::TEMPLATES
                .iter()
                .map(|(file, text)| {
                    let name = file.trim_end_matches(".hbs").to_owned();
                    (
                        name,
                        PathBuf::from(crate::starter::origin("templates", file)),
                        (*text).to_owned(),
                    )
                })
                .collect(),
        ),
    }
}

/// Compiles `(name, file, text)` templates into one registry.
fn compile_all(
    dir: PathBuf,
    sources: Vec<(String, PathBuf, String)>,
) -> Result<Templates, TemplateError> {
    let mut registry = registry();
    let mut files = BTreeMap::new();
    for (name, path, text) in sources {
        let origin = path.display().to_string();
        registry
            .register_template_string(&name, &text)
            .map_err(|e| TemplateError {
                origin: match e.pos() {
                    Some((line, column)) => format!("{origin}:{line}:{column}"),
                    None => origin.clone(),
                },
                message: e.reason().to_string(),
            })?;
        files.insert(name, path);
    }
    Ok(Templates {
        registry,
        dir,
        files,
    })
}

impl Templates {
    /// The directory the templates came from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Template names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.files.keys().map(String::as_str)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.files.contains_key(name)
    }

    /// The file a template was loaded from.
    pub fn file(&self, name: &str) -> Option<&Path> {
        self.files.get(name).map(PathBuf::as_path)
    }

    /// Renders template `name` with `data`; trailing line breaks are dropped, so a file's
    /// final newline does not end up in a ticket field.
    pub fn render(&self, name: &str, data: &serde_json::Value) -> Result<String, TemplateError> {
        self.render_data(name, &TemplateData::new(data.clone()))
    }

    /// [`Templates::render`] with data prepared once for several templates.
    pub fn render_data(&self, name: &str, data: &TemplateData) -> Result<String, TemplateError> {
        let Some(path) = self.files.get(name) else {
            return Err(TemplateError {
                origin: format!("template `{name}`"),
                message: format!(
                    "no such template (expected {name}.hbs in {})",
                    self.dir.display()
                ),
            });
        };
        self.registry
            .render_with_context(name, &data.0)
            .map(trim_end)
            .map_err(|e| render_error(&path.display().to_string(), e))
    }

    /// Renders template `name` for a field of at most `limit` ServiceNow characters. Data
    /// listing `members` (a grouped ticket) that renders too long is rendered again with
    /// the fewest members dropped from the end so that it fits, `more` counting the dropped
    /// ones for the template's "and N more"; what still does not fit is cut. Also returns
    /// how many members the text lists.
    pub fn render_fitting(
        &self,
        name: &str,
        data: &serde_json::Value,
        limit: Option<usize>,
    ) -> Result<(String, usize), TemplateError> {
        let text = self.render(name, data)?;
        let listed = data
            .get("members")
            .and_then(serde_json::Value::as_array)
            .map_or(0, Vec::len);
        let Some(max) = limit else {
            return Ok((text, listed));
        };
        let fits = |text: &str| cut(text, max).len() == text.len();
        if fits(&text) || listed == 0 {
            return Ok((cut(&text, max).to_owned(), listed));
        }
        let already_more = data
            .get("more")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0);
        let with_first = |shown: usize| {
            let mut data = data.clone();
            if let Some(members) = data.get_mut("members").and_then(|m| m.as_array_mut()) {
                members.truncate(shown);
            }
            data["more"] = serde_json::Value::from(already_more + (listed - shown) as u64);
            self.render(name, &data)
        };
        // The most members that fit: rendering grows with each member listed.
        let (mut low, mut high) = (0, listed - 1);
        let mut best = with_first(0)?;
        while low < high {
            let middle = (low + high).div_ceil(2);
            let text = with_first(middle)?;
            if fits(&text) {
                low = middle;
                best = text;
            } else {
                high = middle - 1;
            }
        }
        Ok((cut(&best, max).to_owned(), low))
    }

    /// Renders a template compiled from a mapping file; `origin` names it in errors.
    pub fn render_inline(
        &self,
        origin: &str,
        template: &InlineTemplate,
        data: &TemplateData,
    ) -> Result<String, TemplateError> {
        let mut rc = RenderContext::new(None);
        let mut out = StringOutput::new();
        template
            .compiled
            .render(&self.registry, &data.0, &mut rc, &mut out)
            .map_err(|e| render_error(origin, e))?;
        out.into_string()
            .map(trim_end)
            .map_err(|e| render_error(origin, e.into()))
    }
}

/// A template context prepared once and rendered by several templates.
pub struct TemplateData(Context);

impl TemplateData {
    pub fn new(data: serde_json::Value) -> Self {
        Self(Context::from(data))
    }

    /// The data, as given.
    pub fn value(&self) -> &serde_json::Value {
        self.0.data()
    }
}

/// The one registry configuration: strict variables, plain text output, our helpers.
fn registry() -> Handlebars<'static> {
    let mut registry = Handlebars::new();
    registry.set_strict_mode(true);
    // ServiceNow fields are plain text: `&` and `<` must arrive as typed.
    registry.register_escape_fn(handlebars::no_escape);
    helpers::register(&mut registry);
    registry
}

fn trim_end(text: String) -> String {
    let kept = text.trim_end_matches(['\n', '\r']).len();
    let mut text = text;
    text.truncate(kept);
    text
}

fn render_error(origin: &str, e: handlebars::RenderError) -> TemplateError {
    let at = match (e.line_no, e.column_no) {
        (Some(line), Some(column)) => format!("{origin}:{line}:{column}"),
        _ => origin.to_owned(),
    };
    let message = match e.reason() {
        RenderErrorReason::MissingVariable(Some(path)) => {
            format!("`{path}` is not a field of the finding (strict mode)")
        }
        RenderErrorReason::MissingVariable(None) => {
            "a variable is not a field of the finding (strict mode)".to_owned()
        }
        other => other.to_string(),
    };
    TemplateError {
        origin: at,
        message,
    }
}

fn describe_template_error(e: handlebars::TemplateError) -> String {
    match e.pos() {
        Some((line, column)) => format!("line {line} column {column}: {}", e.reason()),
        None => e.reason().to_string(),
    }
}

/// Cuts `text` so that it fits `max` ServiceNow characters, at a character boundary.
///
/// ServiceNow counts string length as Java does, in UTF-16 units; counting those never
/// overshoots, and cutting between `char`s never splits a character.
pub fn cut(text: &str, max: usize) -> &str {
    let mut units = 0;
    for (index, ch) in text.char_indices() {
        units += ch.len_utf16();
        if units > max {
            return &text[..index];
        }
    }
    text
}
