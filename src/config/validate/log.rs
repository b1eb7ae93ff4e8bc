//! The `[log]` section: the output format and a level that `EnvFilter` accepts.

use crate::config::raw::Log;
use crate::config::{ConfigError, LogConfig, LogFormat};

pub(super) fn log(origin: &str, log: Log) -> Result<LogConfig, ConfigError> {
    let log = LogConfig {
        format: log.format.unwrap_or(LogFormat::Text),
        level: log.level.unwrap_or_else(|| "info".to_owned()),
    };
    if tracing_subscriber::EnvFilter::try_new(&log.level).is_err() {
        return Err(ConfigError::new(
            origin,
            "log.level",
            format!("`{}` is not a valid filter", log.level),
        ));
    }
    Ok(log)
}
