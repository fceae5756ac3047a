//! cclab-server: the reference contact-center API (case intake and tracking).
//!
//! It is both a real service and the load generator's default target. It knows nothing of
//! scenarios, the simulator or the load generator.
//!
//! A contact from any channel (phone, web form, email, PEC, fax, letter) becomes a numbered
//! case; front-office operators take it and either answer it or escalate it to the back office,
//! which closes it. Anyone can read a case's public status, the transparency totals (`/stats`)
//! and a server-rendered page of them (`/status`), as the department publishes on its website.
//!
//! Layout: [`app`] builds the [`axum::Router`] from [`routes`]; [`store`] holds the [`Store`]
//! trait and its SQLite backend (WAL, migrations at start, group commit); [`error`] maps every
//! failure to `{"error": {"code", "message"}}`; [`auth`] checks operator bearer tokens;
//! [`metrics`] serves Prometheus text; [`ratelimit`] guards public POSTs.
//!
//! Architecture invariants:
//! - a 201 from `POST /contacts` is sent only after the case's transaction has committed with
//!   `synchronous=FULL`: it survives a crash of the process;
//! - client input never causes a 5xx or a panic: every extractor rejects with a 4xx JSON error,
//!   and a panic that slipped through would still be caught and answered with a JSON 500.

pub mod auth;
pub mod error;
mod extract;
pub mod metrics;
pub mod model;
pub mod ratelimit;
pub mod routes;
pub mod store;

pub use auth::OperatorTokens;
pub use error::{ApiError, ServerError, StoreError};
pub use ratelimit::RateLimit;
pub use store::{SqliteOptions, SqliteStore, Store};

use axum::Router;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Settings of the HTTP layer (the store has its own, [`SqliteOptions`]).
#[derive(Debug, Clone)]
pub struct Config {
    /// Largest accepted request body; larger ones get 413 before any parsing.
    pub max_body_bytes: usize,
    /// Per-client limit on public POSTs; `None` (the default) disables it.
    pub rate_limit: Option<RateLimit>,
    /// A client that has not sent its whole body after this gets 408 (slow uploads).
    pub body_timeout: Duration,
    /// A request still running after this gets 503, so nothing pins a worker forever.
    pub request_timeout: Duration,
    /// After a shutdown signal, how long in-flight requests may take before the server stops
    /// waiting for them.
    pub shutdown_grace: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_body_bytes: 64 * 1024,
            rate_limit: None,
            body_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// What every handler shares. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub tokens: Arc<OperatorTokens>,
    pub config: Arc<Config>,
    pub metrics: Arc<metrics::Metrics>,
    pub limiter: Option<Arc<ratelimit::RateLimiter>>,
    /// Set once shutdown begins, so `/readyz` turns 503 and balancers stop sending traffic.
    pub draining: Arc<AtomicBool>,
}

impl AppState {
    /// Builds the state from a store, the operators and the HTTP settings.
    pub fn new(store: Arc<dyn Store>, tokens: OperatorTokens, config: Config) -> Self {
        let limiter = config
            .rate_limit
            .map(|r| Arc::new(ratelimit::RateLimiter::new(r)));
        AppState {
            store,
            tokens: Arc::new(tokens),
            config: Arc::new(config),
            metrics: Arc::new(metrics::Metrics::default()),
            limiter,
            draining: Arc::new(AtomicBool::new(false)),
        }
    }
}

/// The whole HTTP application: routes, JSON fallbacks, limits, metrics, panic catching.
pub fn app(state: AppState) -> Router {
    routes::router(state)
}

/// Serves `state` on `listener` until `shutdown` resolves, then drains: stops accepting, lets
/// requests in flight finish (up to [`Config::shutdown_grace`]), and closes the store.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let addr = listener.local_addr().map_err(ServerError::Io)?;
    tracing::info!(%addr, operators = state.tokens.len(), "listening");
    let (fired_tx, fired_rx) = tokio::sync::oneshot::channel::<()>();
    let draining = state.draining.clone();
    let signal = async move {
        shutdown.await;
        draining.store(true, Ordering::SeqCst);
        tracing::info!("shutdown requested: draining requests in flight");
        let _ = fired_tx.send(());
    };
    let service = app(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let server = axum::serve(listener, service).with_graceful_shutdown(signal);
    let grace = state.config.shutdown_grace;
    let overrun = async move {
        if fired_rx.await.is_ok() {
            tokio::time::sleep(grace).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        res = server => res.map_err(ServerError::Io)?,
        () = overrun => tracing::warn!(?grace, "requests still in flight after the grace period"),
    }
    state.store.shutdown().await?;
    tracing::info!("server stopped");
    Ok(())
}

/// Resolves on Ctrl-C or (on Unix) SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
