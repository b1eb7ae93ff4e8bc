//! The `[log]` section: the output format and a level that the log filter accepts.

use crate::config::raw::Log;
use crate::config::{ConfigError, LogConfig, LogFormat};

pub(super) fn log(origin: &str, log: Log) -> Result<LogConfig, ConfigError> {
    let log = LogConfig {
        format: log.format.unwrap_or(LogFormat::Text),
        level: log.level.unwrap_or_else(|| "info".to_owned()),
    };
    if let Err(why) = crate::telemetry::filter(&log.level) {
        return Err(ConfigError::new(
            origin,
            "log.level",
            format!(
                "`{}` is not a valid filter: {why}",
                crate::telemetry::escaped(&log.level)
            ),
        ));
    }
    Ok(log)
}
