//! Tracing set-up: text or JSON lines on stderr, level from `--log-level`, `RUST_LOG` or config.
//!
//! Text lines escape control characters in every field value, so a login holding a line
//! break cannot forge a log line; JSON lines are escaped by JSON itself.

use std::borrow::Cow;
use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::{EnvFilter, fmt as layer_fmt, prelude::*};

use crate::config::LogFormat;

/// Installs the global subscriber. `level` wins over `RUST_LOG`, which wins over `default`;
/// each goes through [`scoped`].
pub fn init(format: LogFormat, level: Option<&str>, default: &str) {
    let text = level
        .map(str::to_owned)
        .or_else(|| {
            std::env::var("RUST_LOG")
                .ok()
                .filter(|v| !v.trim().is_empty())
        })
        .unwrap_or_else(|| default.to_owned());
    let filter = filter(&text).unwrap_or_else(|_| EnvFilter::new(scoped(default)));
    let registry = tracing_subscriber::registry().with(filter);
    let result = match format {
        LogFormat::Text => registry
            .with(
                layer_fmt::layer()
                    .fmt_fields(EscapedFields)
                    // Colours only for a person at a terminal, never into a file or journald.
                    .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                    .with_writer(std::io::stderr),
            )
            .try_init(),
        LogFormat::Json => registry
            .with(
                layer_fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
    // A second init (tests, an embedding program) keeps the first subscriber.
    drop(result);
}

/// Parses a log filter (through [`scoped`]), saying what is wrong with it.
///
/// A character outside ASCII is refused before `EnvFilter` sees it: its parser panics on
/// some (it cuts the text at a byte inside a character), and targets, levels and field
/// names are ASCII anyway.
pub fn filter(text: &str) -> Result<EnvFilter, String> {
    if let Some(c) = text.chars().find(|c| !c.is_ascii()) {
        return Err(format!(
            "{} is not ASCII; a filter names levels and targets, e.g. `info` or `snowsync=debug`",
            escaped(&format!("`{c}`"))
        ));
    }
    EnvFilter::try_new(scoped(text)).map_err(|e| e.to_string())
}

/// A log filter with a bare `debug` or `trace` applied to snowsync only (dependencies stay at
/// `info`), and handlebars held at `warn` unless named: dependencies' debug output can carry
/// request data, and handlebars' carries the template context, a finding's text. Naming a
/// crate (`sqlx=debug`) still turns it up on purpose.
pub fn scoped(filter: &str) -> String {
    let mut directives: Vec<String> = Vec::new();
    for directive in filter.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        match directive.to_ascii_lowercase().as_str() {
            level @ ("debug" | "trace") => {
                directives.push("info".to_owned());
                directives.push(format!("snowsync={level}"));
            }
            _ => directives.push(directive.to_owned()),
        }
    }
    if !directives.iter().any(|d| d.starts_with("handlebars")) {
        directives.push("handlebars=warn".to_owned());
    }
    directives.join(",")
}

/// `text` with every control character written as an escape (`\n`, `\r`, `\t`, `\u{1b}`),
/// so that it stays on one line and cannot steer a terminal.
pub fn escaped(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                // Invariant: writing to a String cannot fail.
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// The text format's fields: `message` bare, the rest `name=value`, every value escaped.
#[derive(Debug, Clone, Copy, Default)]
pub struct EscapedFields;

impl<'writer> FormatFields<'writer> for EscapedFields {
    fn format_fields<R: RecordFields>(
        &self,
        mut writer: Writer<'writer>,
        fields: R,
    ) -> fmt::Result {
        let mut visitor = EscapingVisitor {
            writer: &mut writer,
            first: true,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct EscapingVisitor<'a, 'writer> {
    writer: &'a mut Writer<'writer>,
    first: bool,
    result: fmt::Result,
}

impl EscapingVisitor<'_, '_> {
    fn write(&mut self, name: &str, value: &str) {
        if self.result.is_err() || name.starts_with("log.") {
            return;
        }
        let separator = if self.first { "" } else { " " };
        self.first = false;
        let value = escaped(value);
        self.result = if name == "message" {
            write!(self.writer, "{separator}{value}")
        } else {
            write!(self.writer, "{separator}{name}={value}")
        };
    }
}

impl Visit for EscapingVisitor<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.write(field.name(), value);
        } else {
            // Quoted, as the default format does; Debug already escapes within the quotes.
            self.write(field.name(), &format!("{value:?}"));
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.write(field.name(), &value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.write(field.name(), &format!("{value:?}"));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::fmt::MakeWriter;

    use super::{EscapedFields, escaped, scoped};

    #[test]
    fn a_bare_debug_level_reaches_snowsync_only_and_handlebars_stays_quiet() {
        assert_eq!(scoped("debug"), "info,snowsync=debug,handlebars=warn");
        assert_eq!(scoped("info"), "info,handlebars=warn");
        assert_eq!(
            scoped("trace,sqlx=debug"),
            "info,snowsync=trace,sqlx=debug,handlebars=warn"
        );
        assert_eq!(scoped("handlebars=trace"), "handlebars=trace");
    }

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    #[test]
    fn a_line_break_in_a_logged_value_cannot_forge_a_line() {
        let buffer = Buffer::default();
        let subscriber = tracing_subscriber::fmt()
            .fmt_fields(EscapedFields)
            .with_ansi(false)
            .with_writer(buffer.clone())
            .finish();
        let login = "ana\n2026-01-01T00:00:00Z  INFO forged: admin logged in";
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(name = %login, quoted = login, "optional reference\r left empty");
        });
        let written = String::from_utf8(buffer.0.lock().expect("lock").clone()).expect("utf-8");
        assert_eq!(written.lines().count(), 1, "{written}");
        assert!(written.contains("name=ana\\n2026"), "{written}");
        assert!(written.contains("reference\\r left empty"), "{written}");
    }

    #[test]
    fn control_characters_are_escaped_and_plain_text_is_kept() {
        assert_eq!(escaped("ana@simubiz.com"), "ana@simubiz.com");
        assert_eq!(
            escaped("a\nINFO forged\r\t\u{1b}[31m"),
            "a\\nINFO forged\\r\\t\\u{1b}[31m"
        );
    }
}
