//! The pipeline every command runs on: the configuration's mappings and templates, loaded
//! and checked together (every template a profile names exists), so that `serve`, `demo`,
//! `bench`, `ingest`, `render`, `outbox retry` and the tests accept exactly the same files,
//! and `check` reports on the same steps line by line.

use std::path::PathBuf;
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
    #[error("loading mappings from {dir}: {source}")]
    Mappings {
        dir: PathBuf,
        #[source]
        source: MappingError,
    },
    #[error("loading templates from {dir}: {source}")]
    Templates {
        dir: PathBuf,
        #[source]
        source: TemplateError,
    },
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    MissingTemplates(Vec<MappingError>),
}

/// Loads `config.rules_dir` and `config.templates_dir` and checks that every template a
/// profile names was loaded.
pub fn load(config: &MappingConfig) -> Result<Pipeline, PipelineError> {
    let mappings = mapping::load(&config.rules_dir).map_err(|source| PipelineError::Mappings {
        dir: config.rules_dir.clone(),
        source,
    })?;
    let templates = mapping::load_templates(&config.templates_dir).map_err(|source| {
        PipelineError::Templates {
            dir: config.templates_dir.clone(),
            source,
        }
    })?;
    let missing = mappings.verify_templates(&templates);
    if !missing.is_empty() {
        return Err(PipelineError::MissingTemplates(missing));
    }
    Ok(Pipeline {
        mappings: Arc::new(mappings),
        templates: Arc::new(templates),
    })
}
