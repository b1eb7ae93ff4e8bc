//! The pipeline every command runs on: the configuration's mappings and templates, loaded
//! and checked together (every template a profile names exists), so that `serve`, `demo`,
//! `bench`, `ingest`, `render`, `outbox retry` and the tests accept exactly the same files,
//! and `check` reports on the same steps line by line.

use std::sync::Arc;

use crate::config::MappingConfig;
use crate::mapping::{self, MappingError, Mappings, TemplateError, Templates};

/// Mappings and templates that belong together; cheap to clone.
#[derive(Clone)]
pub struct Pipeline {
    pub mappings: Arc<Mappings>,
    pub templates: Arc<Templates>,
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// Every problem of every mapping file, one a line.
    #[error("{}", lines(.0))]
    Mappings(Vec<MappingError>),
    #[error("loading templates: {0}")]
    Templates(#[source] TemplateError),
    #[error("{}", lines(.0))]
    MissingTemplates(Vec<MappingError>),
}

fn lines(errors: &[MappingError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The pipeline a running service uses, replaced whole by a reload (SIGHUP): a reader takes
/// the current one and keeps it for the whole of its work, so a finding is never planned with
/// the mappings of one load and the templates of another. Cheap to clone.
#[derive(Clone)]
pub struct Live(Arc<std::sync::RwLock<Arc<Pipeline>>>);

impl Live {
    pub fn new(pipeline: Pipeline) -> Self {
        Self(Arc::new(std::sync::RwLock::new(Arc::new(pipeline))))
    }

    /// The pipeline in force now.
    pub fn current(&self) -> Arc<Pipeline> {
        // A poisoned lock still holds a whole pipeline: the swap is a single assignment.
        self.0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Puts `pipeline` in force for every reader from now on.
    pub fn replace(&self, pipeline: Pipeline) {
        *self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(pipeline);
    }
}

impl From<Pipeline> for Live {
    fn from(pipeline: Pipeline) -> Self {
        Self::new(pipeline)
    }
}

/// Loads the admin's rules, the shipped rules and the templates (the starter files built
/// into the binary where no folder is configured or found) and checks that every template
/// a profile names was loaded.
pub fn load(config: &MappingConfig) -> Result<Pipeline, PipelineError> {
    let mappings = mapping::load_all(
        config.local_rules_dir.as_deref(),
        config.rules_dir.as_deref(),
    )
    .map_err(PipelineError::Mappings)?;
    let templates = mapping::load_templates_or_starter(config.templates_dir.as_deref())
        .map_err(PipelineError::Templates)?;
    let missing = mappings.verify_templates(&templates);
    if !missing.is_empty() {
        return Err(PipelineError::MissingTemplates(missing));
    }
    Ok(Pipeline {
        mappings: Arc::new(mappings),
        templates: Arc::new(templates),
    })
}

/// Where the configuration takes mappings and templates from, for logs and `check`.
pub fn describe_sources(config: &MappingConfig) -> String {
    let folder = |dir: &Option<std::path::PathBuf>, what: &str| match dir {
        Some(dir) => dir.display().to_string(),
        None => format!("the built-in starter {what}"),
    };
    let local = match &config.local_rules_dir {
        Some(dir) => format!("{} (tried first), then ", dir.display()),
        None => String::new(),
    };
    format!(
        "mappings from {local}{}; templates from {}",
        folder(&config.rules_dir, "mappings"),
        folder(&config.templates_dir, "templates")
    )
}
