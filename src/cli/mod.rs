//! The command line: argument parsing and one function per command.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use secrecy::ExposeSecret;

use crate::config::{AuthMode, Config, LogFormat};
use crate::domain::FindingStatus;
use crate::store::outbox::{OpKind, RowStatus};
use crate::{pipeline, redact, servicenow, shutdown, store, telemetry};

pub mod admin;
pub mod bench;
pub mod check;
pub mod demo;
pub mod ingest;
pub mod render;
pub mod variables;

/// Exit statuses, the same for every command; `--help` and the README list them.
pub mod exit {
    /// Done, nothing refused.
    pub const OK: u8 = 0;
    /// Failed: an error, a `check` line that failed, something asked for that does not exist.
    pub const FAILURE: u8 = 1;
    /// The command line or the configuration is wrong (clap's own usage errors are 2 too).
    pub const USAGE: u8 = 2;
    /// Done in part: `ingest` recorded the good lines and skipped the bad ones.
    pub const PARTIAL: u8 = 3;
}

const EXIT_CODES: &str = "Exit status:
  0  ok
  1  failure (an error, a `check` line that failed, a finding, row or table that does not exist)
  2  usage: a wrong command line or configuration
  3  partial: `ingest` skipped bad lines and recorded the rest";

/// The version line: the package version and the git commit it was built from.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("SNOWSYNC_GIT_COMMIT"),
    ")"
);

#[derive(Debug, Parser)]
#[command(
    name = "snowsync",
    version = VERSION,
    about = "Sync security findings with ServiceNow incidents and service requests",
    after_help = EXIT_CODES
)]
pub struct Cli {
    /// Configuration file [default: config/snowsync.toml, or built-in defaults when absent]
    #[arg(long, global = true, value_name = "PATH", env = "SNOWSYNC_CONFIG")]
    pub config: Option<PathBuf>,
    /// Log filter, e.g. `info` or `snowsync=debug` (wins over RUST_LOG and the config)
    #[arg(long, global = true, value_name = "FILTER", value_parser = log_filter)]
    pub log_level: Option<String>,
    /// Log output format [default: from the config, else text]
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormatArg>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LogFormatArg {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service: migrations, outbox workers and the HTTP API, until stopped
    Serve,
    /// Start the emulator and the service, send sample findings, print the tickets made
    Demo {
        /// Keep the emulator and the service running afterwards, with a dead row to retry,
        /// and print the operator's console URL and an admin key; stop with Ctrl-C
        #[arg(long)]
        keep: bool,
    },
    /// Measure end-to-end forward-sync throughput against the in-process emulator
    Bench(bench::BenchArgs),
    /// Apply database migrations and exit
    Migrate {
        /// Database URL [default: database.url from the configuration]
        #[arg(long, value_name = "URL")]
        database: Option<String>,
    },
    /// Validate the configuration, mappings and templates, then connect to ServiceNow and report what works
    Check {
        /// Check the configuration, mappings and templates only; contact nothing
        #[arg(long)]
        offline: bool,
    },
    /// Record findings from a JSON Lines file (generic findings, Oort events, approval requests)
    Ingest {
        /// One JSON document per line
        file: PathBuf,
        /// Do not draw a progress bar
        #[arg(long)]
        no_progress: bool,
    },
    /// Inspect and repair the outbox of ServiceNow operations
    #[command(subcommand)]
    Outbox(OutboxCommand),
    /// Inspect findings, their tickets and audit trails
    #[command(subcommand)]
    Findings(FindingsCommand),
    /// List the fields of a ServiceNow table (with inherited ones): type, max length, mandatory
    Fields {
        /// The table, e.g. `incident` or `sc_request`
        #[arg(long)]
        table: String,
        /// Only String fields, the ones custom mappings may fill
        #[arg(long)]
        string_only: bool,
    },
    /// Show the matched rule, the profile and the exact payload for a finding, offline
    Render(render::RenderArgs),
    /// Run the ServiceNow emulator until stopped
    Sim(Box<crate::sim::cli::SimArgs>),
    /// Write the example configuration, the starter mappings and templates into DIR to edit
    Init {
        /// The folder to write into (created; existing files are never overwritten)
        dir: PathBuf,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), e.g. `snowsync man > snowsync.1`
    Man,
}

#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// List rows, newest first
    List {
        /// Only rows in this state
        #[arg(long, value_enum)]
        state: Option<RowStatus>,
        #[arg(long, default_value_t = 50)]
        limit: u64,
    },
    /// Show one row with its payload
    Show { id: i64 },
    /// Revive dead rows: pending again, attempts reset, due now, payload rendered again
    /// from the current mappings. By id, or every dead row (`--state dead`), optionally of
    /// one finding (`--finding`) or one operation (`--op`)
    Retry {
        #[arg(required_unless_present = "state", conflicts_with_all = ["state", "finding", "op"])]
        ids: Vec<i64>,
        /// Every row in this state; only `dead` rows can be retried
        #[arg(long, value_enum)]
        state: Option<RowStatus>,
        /// With --state: only rows of this finding
        #[arg(long, requires = "state")]
        finding: Option<i64>,
        /// With --state: only rows of this operation
        #[arg(long, value_enum, requires = "state")]
        op: Option<OpKind>,
    },
    /// Delete delivered rows older than a duration
    Purge {
        /// e.g. 7d, 24h
        #[arg(long, value_parser = humantime::parse_duration, default_value = "7d")]
        older_than: std::time::Duration,
    },
}

#[derive(Debug, Subcommand)]
pub enum FindingsCommand {
    /// List findings, newest first
    List {
        #[arg(long, value_enum)]
        state: Option<FindingStatus>,
        #[arg(long, default_value_t = 50)]
        limit: u64,
    },
    /// Show a finding with its ticket, outbox rows and audit trail
    Show { id: i64 },
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // Commands that need no configuration run before it is loaded.
    match &cli.command {
        Command::Init { dir } => return init(dir),
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            let mut script = Vec::new();
            clap_complete::generate(*shell, &mut command, "snowsync", &mut script);
            emit(&script)?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::Man => {
            let command = <Cli as clap::CommandFactory>::command();
            let mut page = Vec::new();
            clap_mangen::Man::new(command)
                .render(&mut page)
                .context("rendering the manual page")?;
            emit(&page)?;
            return Ok(ExitCode::SUCCESS);
        }
        _ => {}
    }
    let config = match Config::load(cli.config.as_deref(), std::env::vars()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("configuration error: {e}");
            return Ok(ExitCode::from(exit::USAGE));
        }
    };
    let format = match cli.log_format {
        Some(LogFormatArg::Json) => LogFormat::Json,
        Some(LogFormatArg::Text) => LogFormat::Text,
        None => config.log.format,
    };
    // The demo prints its own report; its logs stay quiet unless asked for.
    let default_level = if matches!(cli.command, Command::Demo { .. } | Command::Bench(_)) {
        "warn"
    } else {
        config.log.level.as_str()
    };
    telemetry::init(format, cli.log_level.as_deref(), default_level);
    match cli.command {
        Command::Serve => serve(config).await,
        Command::Bench(args) => {
            bench::run(args).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo { keep } => {
            demo::run(keep).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate { database } => migrate(config, database).await,
        Command::Check { offline } => Ok(check(&config, offline).await),
        Command::Fields { table, string_only } => fields(&config, &table, string_only).await,
        Command::Render(args) => render(&config, &args),
        Command::Ingest { file, no_progress } => ingest_file(config, file, no_progress).await,
        Command::Outbox(command) => outbox_command(config, command).await,
        Command::Findings(command) => findings_command(config, command).await,
        Command::Sim(args) => {
            crate::sim::cli::run(*args, shutdown::on_signal()).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Init { .. } | Command::Completions { .. } | Command::Man => {
            unreachable!("handled before the configuration is loaded")
        }
    }
}

/// Writes `bytes` to stdout; a closed pipe (`| head`) ends the output quietly.
fn emit(bytes: &[u8]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(e).context("writing to standard output")
        }
        _ => Ok(()),
    }
}

fn init(dir: &std::path::Path) -> anyhow::Result<ExitCode> {
    let written = crate::starter::write_to(dir).map_err(anyhow::Error::msg)?;
    for path in &written {
        println!("wrote {}", path.display());
    }
    println!(
        "edit {}, put your own rules in {} (tried before the shipped ones), then run `snowsync --config {} check`",
        dir.join("snowsync.toml").display(),
        dir.join("mappings.d").display(),
        dir.join("snowsync.toml").display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Opens the configured database as it is, creating and migrating nothing: the admin
/// commands read or repair what `serve` recorded.
async fn open_store(config: &Config) -> anyhow::Result<sea_orm::DatabaseConnection> {
    store::open_existing(&config.database)
        .await
        .with_context(|| format!("opening the database {}", redact::url(&config.database.url)))
}

async fn outbox_command(config: Config, command: OutboxCommand) -> anyhow::Result<ExitCode> {
    let db = open_store(&config).await?;
    let (text, ok) = match command {
        OutboxCommand::List { state, limit } => {
            (admin::outbox_list(&db, state, limit).await?, true)
        }
        OutboxCommand::Show { id } => match admin::outbox_show(&db, id).await? {
            Some(text) => (text, true),
            None => (format!("no outbox row {id}\n"), false),
        },
        OutboxCommand::Retry {
            ids,
            state,
            finding,
            op,
        } => {
            let pipeline = pipeline::load(&config.mapping)?;
            match state {
                None => admin::outbox_retry(&db, &ids, &pipeline).await?,
                Some(RowStatus::Dead) => {
                    admin::outbox_retry_dead(&db, finding, op, &pipeline).await?
                }
                Some(other) => anyhow::bail!(
                    "outbox retry --state {other}: only dead rows can be retried (--state dead)"
                ),
            }
        }
        OutboxCommand::Purge { older_than } => (admin::outbox_purge(&db, older_than).await?, true),
    };
    print!("{text}");
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn findings_command(config: Config, command: FindingsCommand) -> anyhow::Result<ExitCode> {
    let db = open_store(&config).await?;
    match command {
        FindingsCommand::List { state, limit } => {
            print!("{}", admin::findings_list(&db, state, limit).await?);
            Ok(ExitCode::SUCCESS)
        }
        FindingsCommand::Show { id } => match admin::findings_show(&db, id).await? {
            Some(text) => {
                print!("{text}");
                Ok(ExitCode::SUCCESS)
            }
            None => {
                eprintln!("no finding {id}");
                Ok(ExitCode::FAILURE)
            }
        },
    }
}

async fn serve(config: Config) -> anyhow::Result<ExitCode> {
    let listener = tokio::net::TcpListener::bind(config.http.listen)
        .await
        .with_context(|| format!("binding the HTTP listener on {}", config.http.listen))?;
    let running = crate::service::start(&config, listener, shutdown::on_signal()).await?;
    crate::reload::on_sighup(
        config.mapping.clone(),
        running.intake.pipeline.clone(),
        running.shutdown_token(),
    )
    .context("listening for SIGHUP")?;
    // The mappings against the instance, once: a problem is logged and the service runs on,
    // since the outbox holds work until the instance or the mapping is fixed.
    tokio::spawn(check::log_online(
        running.client.clone(),
        running.intake.pipeline.current().mappings.clone(),
    ));
    running.wait().await;
    Ok(ExitCode::SUCCESS)
}

async fn ingest_file(config: Config, file: PathBuf, no_progress: bool) -> anyhow::Result<ExitCode> {
    let db = store::open(&config.database)
        .await
        .with_context(|| format!("opening the database {}", redact::url(&config.database.url)))?;
    let pipeline = pipeline::load(&config.mapping)?;
    let intake = crate::intake::Intake::new(
        db,
        pipeline.into(),
        std::sync::Arc::new(tokio::sync::Notify::new()),
    );
    let report = ingest::ingest_file(&intake, &file, !no_progress).await?;
    for (line, error) in &report.rejected {
        eprintln!("{}:{line}: skipped: {error}", file.display());
    }
    println!(
        "{} line(s) read: {} finding(s) recorded ({} new), {} line(s) skipped",
        report.lines,
        report.findings,
        report.new_findings,
        report.rejected.len()
    );
    if report.test_events > 0 {
        println!(
            "{} Oort test event(s) (Test Connectivity): nothing recorded for them",
            report.test_events
        );
    }
    Ok(if report.rejected.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(exit::PARTIAL)
    })
}

async fn migrate(mut config: Config, database: Option<String>) -> anyhow::Result<ExitCode> {
    if let Some(url) = database {
        config.database.url = url;
    }
    let shown = redact::url(&config.database.url);
    let db = store::connect(&config.database)
        .await
        .with_context(|| format!("connecting to {shown}"))?;
    store::migrate(&db)
        .await
        .with_context(|| format!("migrating {shown}"))?;
    println!("migrations applied to {shown}");
    Ok(ExitCode::SUCCESS)
}

async fn check(config: &Config, offline: bool) -> ExitCode {
    for line in describe(config) {
        println!("{line}");
    }
    let report = check::run(config, offline).await;
    for line in &report.lines {
        println!("{line}");
    }
    if report.failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// The ServiceNow client of `check` and `fields`. In `oauth_password_bootstrap` mode it reads
/// and stores its refresh token in the database, which must exist and be migrated: these
/// commands create nothing, so a wrong `database.url` is an error naming it.
pub(crate) async fn servicenow_client(config: &Config) -> anyhow::Result<servicenow::Client> {
    if config.servicenow.auth != AuthMode::OauthPasswordBootstrap {
        return Ok(servicenow::Client::new(&config.servicenow)?);
    }
    let db = store::open_existing(&config.database).await.context(
        "servicenow.auth = oauth_password_bootstrap keeps its refresh token in the database",
    )?;
    Ok(servicenow::Client::with_token_store(
        &config.servicenow,
        store::credentials::token_store(db),
    )?)
}

async fn fields(config: &Config, table: &str, string_only: bool) -> anyhow::Result<ExitCode> {
    let client = servicenow_client(config).await?;
    let lines = servicenow::report::fields(&client, table, string_only)
        .await
        .with_context(|| format!("listing the fields of {table}"))?;
    // Only the header: sys_dictionary knows no such table (or hides it from this user).
    if lines.len() <= 1 {
        let what = if string_only {
            "String fields"
        } else {
            "fields"
        };
        eprintln!(
            "error: table `{table}` has no {what} in sys_dictionary: no such table, or the integration user cannot read its dictionary (needs read access to sys_dictionary)"
        );
        return Ok(ExitCode::FAILURE);
    }
    // A closed pipe (`| head`) ends the listing quietly rather than with a panic.
    let mut out = std::io::stdout().lock();
    for line in lines {
        if writeln!(out, "{line}").is_err() {
            break;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn render(config: &Config, args: &render::RenderArgs) -> anyhow::Result<ExitCode> {
    let pipeline = pipeline::load(&config.mapping)?;
    let text = render::run(&pipeline, args)?;
    emit(text.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// What `check` prints about the configuration: every line free of secrets.
pub fn describe(config: &Config) -> Vec<String> {
    let sn = &config.servicenow;
    let set = |present: bool| if present { "set" } else { "not set" };
    let mut lines = vec![
        format!("ok   configuration loaded from {}", config.origin),
        format!(
            "ok   servicenow.instance_url = {}",
            redact::url(sn.instance_url.as_str())
        ),
        format!(
            "ok   servicenow.auth = {} (user {}, client id {}, password {}, client secret {})",
            sn.auth,
            sn.username.as_deref().unwrap_or("-"),
            sn.client_id.as_deref().unwrap_or("-"),
            set(sn.password.is_some()),
            set(sn.client_secret.is_some()),
        ),
    ];
    if let Some(jwt) = &sn.jwt {
        lines.push(format!(
            "ok   servicenow.jwt: subject {}, key id {}, {} key read and proven by signing (never shown)",
            jwt.subject,
            jwt.key_id,
            jwt.algorithm.as_str()
        ));
    }
    if let Some(bootstrap) = &sn.bootstrap {
        lines.push(format!(
            "ok   servicenow.token_encryption_key set: the refresh token is stored encrypted in the database (refresh_token_lifespan {})",
            in_days(bootstrap.refresh_token_lifespan)
        ));
    }
    lines.extend([
        format!("ok   database.url = {}", redact::url(&config.database.url)),
        format!(
            "ok   http.listen = {} ({} API key(s), {} admin key(s))",
            config.http.listen,
            config.http.api_keys.len(),
            config.admin.api_keys.len()
        ),
        format!(
            "ok   outbox: {} workers, lease {}, up to {} attempts",
            config.outbox.workers,
            humantime::format_duration(config.outbox.lease),
            config.outbox.retry.max_attempts
        ),
    ]);
    if config.http.api_keys.is_empty() {
        lines.push(
            "warn http.api_keys is empty: the ingest API will refuse every request".to_owned(),
        );
    }
    for (name, source) in &config.sources {
        lines.push(format!(
            "ok   sources.{name}: webhook {}, HMAC secret {}",
            source
                .webhook_url
                .as_ref()
                .map(|u| redact::url(u.as_str()))
                .unwrap_or_else(|| "-".to_owned()),
            set(source
                .hmac_secret
                .as_ref()
                .is_some_and(|s| !s.expose_secret().is_empty())),
        ));
    }
    lines
}

/// A lifespan as the instance's form gives it: whole days when it is, else as written.
fn in_days(lifespan: std::time::Duration) -> String {
    const DAY: u64 = 86_400;
    match lifespan.as_secs() {
        secs if secs % DAY == 0 && lifespan.subsec_nanos() == 0 => format!("{} days", secs / DAY),
        _ => humantime::format_duration(lifespan).to_string(),
    }
}

/// `--log-level` as clap checks it, so that a bad filter is a usage error naming the option.
fn log_filter(text: &str) -> Result<String, String> {
    telemetry::filter(text).map(|_| text.to_owned())
}
