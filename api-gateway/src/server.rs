//! Running the service: open the log, rebuild state, start the engine and the feed, serve HTTP,
//! and on a shutdown signal stop accepting, finish in-flight requests, stop the workers and close
//! the log. Every background task started here is owned and joined here.

use crate::clock::{Clock, SystemClock};
use crate::engine::Engine;
use crate::http::{AppState, app};
use crate::{config_file, feed};
use anyhow::Context as _;
use event_store::embedded::EmbeddedStore;
use projections::ReadModels;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// What `serve` needs to know.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub config: PathBuf,
    pub store: PathBuf,
    pub listen: SocketAddr,
}

/// Serves until `shutdown` completes, then shuts down gracefully.
pub async fn serve(
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let config = config_file::load(&options.config)?;
    let store = EmbeddedStore::open(&options.store)?;
    tracing::info!(path = %store.path().display(), "event store open");
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let (engine, engine_task) = Engine::start(config.clone(), store.clone(), Arc::clone(&clock))
        .await
        .context("the routing state could not be rebuilt from the log")?;
    let (stop_workers, workers_stopped) = watch::channel(false);
    let models = ReadModels::new(config.agents.keys().cloned());
    let (views, feed_task) = feed::start(store.clone(), models, workers_stopped);

    let listener = TcpListener::bind(options.listen)
        .await
        .with_context(|| format!("cannot listen on {}", options.listen))?;
    let address = listener.local_addr()?;
    // Tests and scripts read this line to find the port when listening on port 0.
    println!("switchboard listening on http://{address}");
    tracing::info!(%address, "listening");

    let state = AppState {
        engine,
        views,
        store: store.clone(),
        config: Arc::new(config),
        clock,
    };
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await
        .context("the HTTP server failed")?;
    tracing::info!("no longer accepting requests; stopping workers");

    // The router (and with it the last engine handle) is gone: the engine drains and stops.
    stop_workers.send_replace(true);
    engine_task.await.context("the engine task failed")?;
    feed_task
        .await
        .context("the read-model feed task failed")?
        .context("the read-model feed stopped on an error")?;
    drop(store);
    tracing::info!("stopped cleanly");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested");
}
