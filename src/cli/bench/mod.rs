//! `snowsync bench`: how fast forward sync runs on this machine, and what it costs in
//! ServiceNow requests. The emulator and the service run in-process (one scenario module
//! each); findings go in over HTTP. Prints figures; asserts nothing.

mod economy;
mod engine;
mod harness;
mod ingest;
mod latency;
mod memory;
mod poll;
mod report;

/// Which scenarios to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// Every scenario below
    All,
    /// End to end with no emulator latency: SQLite, and PostgreSQL with `--database`
    Engine,
    /// 50 ms per emulator request, 8 and 32 requests in flight
    Latency,
    /// Requests per create, update, close and tag, by endpoint
    Economy,
    /// `POST /v1/findings` latency at a fixed rate
    Ingest,
    /// One poll cycle over N linked tickets, 3 of them changed
    Poll,
    /// Peak RSS of `snowsync serve` alone, in a process of its own, after N findings
    Memory,
}

/// What to run.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Scenario to run
    #[arg(long, value_enum, default_value_t = Scenario::All)]
    pub scenario: Scenario,
    /// Findings of the engine-bound scenario, one run per value (comma-separated)
    #[arg(long, value_delimiter = ',', default_values_t = [1_000, 10_000, 100_000])]
    pub findings: Vec<usize>,
    /// Outbox workers (engine-bound, economy, ingest)
    #[arg(long, default_value_t = 8)]
    pub workers: usize,
    /// Rows a worker claims and sends together in Batch API calls (`outbox.batch_size`;
    /// engine-bound, economy, ingest); the latency-bound scenario runs 1 and this
    #[arg(long, default_value_t = 20)]
    pub batch_size: usize,
    /// Concurrent HTTP senders (closed loop)
    #[arg(long, default_value_t = 16)]
    pub senders: usize,
    /// PostgreSQL URL: the engine-bound scenario also runs there, in a fresh schema
    #[arg(long, value_name = "URL")]
    pub database: Option<String>,
    /// Findings of the latency-bound scenario
    #[arg(long, default_value_t = 500)]
    pub latency_findings: usize,
    /// Findings of the request-economy scenario
    #[arg(long, default_value_t = 200)]
    pub economy_findings: usize,
    /// Findings of the ingest-latency scenario
    #[arg(long, default_value_t = 5_000)]
    pub ingest_findings: usize,
    /// Requests per second of the ingest-latency scenario
    #[arg(long, default_value_t = 500.0)]
    pub ingest_rate: f64,
    /// Linked tickets of the poll-cost scenario, one run per value (comma-separated)
    #[arg(long, value_delimiter = ',', default_values_t = [10_000, 100_000])]
    pub poll_tickets: Vec<usize>,
    /// Findings of the service-memory scenario, one run per value (comma-separated)
    #[arg(long, value_delimiter = ',', default_values_t = [100_000])]
    pub memory_findings: Vec<usize>,
    /// Print one JSON document instead of tables
    #[arg(long)]
    pub json: bool,
}

/// Runs the chosen scenarios and prints what they measured.
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    if let Some(url) = &args.database
        && !url.starts_with("postgres")
    {
        anyhow::bail!("--database takes a PostgreSQL URL; SQLite always runs on a temporary file");
    }
    let chosen = |s: Scenario| args.scenario == Scenario::All || args.scenario == s;
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    if !args.json {
        println!("machine: {cpus} CPUs; release build advised (cargo build --release)\n");
    }
    let mut reports = Vec::new();
    // Engine-bound first: peak RSS is a high-water mark, and the ingest scenario's open-loop
    // senders hold thousands of requests at once, which would hide how RSS grows with N.
    for (scenario, name) in [
        (Scenario::Engine, "engine"),
        (Scenario::Economy, "economy"),
        (Scenario::Latency, "latency"),
        (Scenario::Poll, "poll"),
        (Scenario::Ingest, "ingest"),
        (Scenario::Memory, "memory"),
    ] {
        if !chosen(scenario) {
            continue;
        }
        let report = match scenario {
            Scenario::Economy => economy::run(&args).await,
            Scenario::Latency => latency::run(&args).await,
            Scenario::Engine => engine::run(&args).await,
            Scenario::Poll => poll::run(&args).await,
            Scenario::Memory => memory::run(&args).await,
            _ => ingest::run(&args).await,
        }
        .map_err(|e| e.context(format!("scenario {name}")))?;
        if !args.json {
            report.print();
        }
        reports.push(report);
    }
    let peak = harness::peak_rss_mib();
    if args.json {
        let document = serde_json::json!({
            "cpus": cpus,
            "peak_rss_mib": report::num(peak),
            "reports": reports,
        });
        println!("{}", serde_json::to_string_pretty(&document)?);
    } else {
        println!(
            "peak RSS of the whole run: {peak:.1} MiB (VmHWM; the emulator, its records and the \
             HTTP senders included)"
        );
    }
    Ok(())
}
