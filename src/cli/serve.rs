//! `cclab serve`: run the reference contact-center API server.

use anyhow::Context as _;
use cclab_server::{AppState, Config, OperatorTokens, RateLimit, SqliteOptions, SqliteStore};
use clap::Args;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Flags of `cclab serve`; each can also come from the environment variable it names.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  \
    CCLAB_OPERATOR_TOKENS='ada=change-me-0123456789' cclab serve --db cases.db --addr 127.0.0.1:8080\n  \
    curl -s -XPOST localhost:8080/api/v1/contacts -H 'content-type: application/json' \\\n    \
    -d '{\"channel\":\"phone\",\"request_type\":\"information\",\"subject\":\"UARS\",\"message\":\"where?\"}'")]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port (the bound address is printed on stdout).
    #[arg(long, env = "CCLAB_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,

    /// SQLite database file, created and migrated at start.
    #[arg(long, env = "CCLAB_DB", default_value = "cclab-cases.db")]
    pub db: PathBuf,

    /// Operator bearer tokens as name=token (at least 16 characters), repeatable or
    /// comma-separated. Kept only as SHA-256 digests.
    #[arg(
        long = "operator-token",
        env = "CCLAB_OPERATOR_TOKENS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub operator_tokens: Vec<String>,

    /// Largest accepted request body, in bytes.
    #[arg(long, env = "CCLAB_MAX_BODY_BYTES", default_value_t = 64 * 1024)]
    pub max_body_bytes: usize,

    /// Per-client limit on public POSTs, in requests per second; 0 turns it off.
    #[arg(long, env = "CCLAB_RATE_LIMIT", default_value_t = 0.0)]
    pub rate_limit: f64,

    /// Burst allowed above the rate limit, in requests.
    #[arg(long, env = "CCLAB_RATE_BURST", default_value_t = 20)]
    pub rate_burst: u32,

    /// Seconds a client may take to send a request body before it is answered with 408.
    #[arg(long, env = "CCLAB_BODY_TIMEOUT", default_value_t = 10)]
    pub body_timeout_secs: u64,

    /// Seconds a request may run before it is answered with 503.
    #[arg(long, env = "CCLAB_REQUEST_TIMEOUT", default_value_t = 30)]
    pub request_timeout_secs: u64,

    /// Seconds to let requests in flight finish after SIGTERM or Ctrl-C.
    #[arg(long, env = "CCLAB_SHUTDOWN_GRACE", default_value_t = 10)]
    pub shutdown_grace_secs: u64,

    /// Most writes committed in one transaction (group commit).
    #[arg(long, env = "CCLAB_MAX_BATCH", default_value_t = 1024)]
    pub max_batch: usize,

    /// Hours an idempotency key is remembered.
    #[arg(long, env = "CCLAB_IDEMPOTENCY_TTL_HOURS", default_value_t = 24)]
    pub idempotency_ttl_hours: u64,

    /// Also write the bound address (host:port) to this file once listening.
    #[arg(long, env = "CCLAB_PORT_FILE")]
    pub port_file: Option<PathBuf>,

    /// Worker threads of the async runtime (default: one per core).
    #[arg(long, env = "CCLAB_WORKERS")]
    pub workers: Option<usize>,

    /// Log filter, e.g. info or cclab_server=debug,tower_http=debug.
    #[arg(long, env = "RUST_LOG", default_value = "info")]
    pub log: String,

    /// Log as JSON lines instead of human-readable text.
    #[arg(long, env = "CCLAB_LOG_JSON")]
    pub log_json: bool,
}

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    init_logs(&args.log, args.log_json)?;
    let tokens =
        OperatorTokens::from_specs(&args.operator_tokens).context("invalid --operator-token")?;
    if tokens.is_empty() {
        tracing::warn!(
            "no operator tokens configured: operator endpoints will refuse every request"
        );
    }
    if args.rate_limit < 0.0 || !args.rate_limit.is_finite() {
        anyhow::bail!("--rate-limit must be >= 0, got {}", args.rate_limit);
    }
    let config = Config {
        max_body_bytes: args.max_body_bytes,
        rate_limit: (args.rate_limit > 0.0).then_some(RateLimit {
            per_second: args.rate_limit,
            burst: args.rate_burst.max(1),
        }),
        body_timeout: Duration::from_secs(args.body_timeout_secs.max(1)),
        request_timeout: Duration::from_secs(args.request_timeout_secs.max(1)),
        shutdown_grace: Duration::from_secs(args.shutdown_grace_secs),
    };
    let options = SqliteOptions {
        max_batch: args.max_batch.max(1),
        idempotency_ttl: Duration::from_secs(args.idempotency_ttl_hours * 3600),
        ..SqliteOptions::default()
    };
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = args.workers {
        runtime.worker_threads(n.max(1));
    }
    let runtime = runtime
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        // The error names the file already.
        let store = SqliteStore::open(&args.db, options)?;
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .with_context(|| format!("cannot listen on {}", args.addr))?;
        let bound = listener.local_addr()?;
        if let Some(path) = &args.port_file {
            std::fs::write(path, bound.to_string())
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        // The first stdout line tells scripts and tests where the server is.
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening on http://{bound}")?;
        stdout.flush()?;
        drop(stdout);
        let state = AppState::new(Arc::new(store), tokens, config);
        cclab_server::serve(listener, state, cclab_server::shutdown_signal()).await?;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

fn init_logs(filter: &str, json: bool) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .with_context(|| format!("invalid log filter {filter:?}"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    result.map_err(|e| anyhow::anyhow!("cannot set up logging: {e}"))
}
