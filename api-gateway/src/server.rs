//! Running the service: open the log, rebuild state, start the engine and the feed, serve HTTP,
//! and on a shutdown signal stop accepting, finish in-flight requests, stop the workers and close
//! the log. Every background task started here is owned and joined here.

use crate::clock::{Clock, SystemClock};
use crate::engine::{Engine, Privacy};
use crate::http::{AppState, ConfiguredKeys, Metrics, Services, app};
use crate::{config_file, feed, snapshot};
use anyhow::Context as _;
use axum::serve::ListenerExt;
use event_store::{EventStore, Store};
use projections::ReadModels;
use routing_core::AgentId;
use std::collections::BTreeSet;
use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// What `serve` needs to know.
#[derive(Clone)]
pub struct ServeOptions {
    pub config: PathBuf,
    /// A directory (embedded store) or a `postgres://` URL; never logged as given, because a
    /// URL may carry a password.
    pub store: String,
    pub listen: SocketAddr,
    /// Where read-model snapshots are kept.
    pub snapshots: PathBuf,
}

/// How long in-flight requests may take to finish once shutdown begins.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Serves until `shutdown` completes, then shuts down gracefully: stop accepting, let in-flight
/// requests finish (at most [`SHUTDOWN_GRACE`]), stop the engine and the feed, close the log. If
/// the engine or the feed stops on its own, that is a failure: the server shuts down the same way
/// and returns the error, so that a supervisor restarts it from the log.
pub async fn serve(
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let config_file::Settings {
        centre: config,
        webhooks,
    } = config_file::load_settings(&options.config)?;
    let store = Store::open(&options.store)
        .await
        .context("the event store could not be opened")?;
    tracing::info!(store = %store.describe(), "event store open");
    let vault = event_store::vault::AnyVault::open(&options.store)
        .await
        .context("the key vault could not be opened")?;
    let privacy = Privacy::new(vault);
    let keyring = Arc::clone(&privacy.keyring);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let metrics = Metrics::new();
    let (engine, mut engine_task) = Engine::start(
        config.clone(),
        store.clone(),
        privacy,
        Arc::clone(&clock),
        metrics.engine.clone(),
    )
    .await
    .context("the routing state could not be rebuilt from the log")?;
    // Two signals: `stop` begins the HTTP drain; `stop_workers` ends the feed once the HTTP
    // server is done, so that it never stops under requests still being answered.
    let (stop, stopping) = watch::channel(false);
    let (stop_workers, workers_stopping) = watch::channel(false);
    let agents: BTreeSet<AgentId> = config.agents.keys().cloned().collect();
    let (models, anchor) = match snapshot::load(&options.snapshots, &agents, &store).await {
        Some((models, anchor)) => {
            tracing::info!(
                checkpoint = models.checkpoint(),
                "read models resumed from their snapshot"
            );
            (models, anchor)
        }
        None => (ReadModels::new(agents), None),
    };
    let snapshots = feed::Snapshots {
        dir: options.snapshots.clone(),
        anchor,
    };
    let (views, mut feed_task) = feed::start(
        store.clone(),
        Arc::clone(&keyring),
        models,
        Some(snapshots),
        workers_stopping,
    );

    // Answer nothing from read models that are behind the log as it was at start-up.
    let head = store.head().borrow().0;
    views
        .caught_up_to(head)
        .await
        .context("the read models could not be rebuilt from the log")?;

    let listener = TcpListener::bind(options.listen)
        .await
        .with_context(|| format!("cannot listen on {}", options.listen))?;
    let address = listener.local_addr()?;
    // Tests and scripts read this line to find the port when listening on port 0.
    println!("switchboard listening on http://{address}");
    tracing::info!(%address, "listening");

    let state = AppState::new(Services {
        engine,
        keyring,
        views,
        store: store.clone(),
        keys: Arc::new(ConfiguredKeys::of(&config)),
        shutdown: stopping.clone(),
        config: Arc::new(config),
        webhooks: Arc::new(webhooks),
        clock,
        metrics,
    });
    let signal_stop = stop.clone();
    let signal = tokio::spawn(async move {
        shutdown.await;
        signal_stop.send_replace(true);
    });
    let mut draining = stopping.clone();
    // Without TCP_NODELAY a stream's small writes wait for the client's delayed ACK (up to
    // 40 ms on Linux) whenever an earlier write is still unacknowledged: offers would stall.
    let listener = listener.tap_io(|connection| {
        if let Err(error) = connection.set_nodelay(true) {
            tracing::debug!(%error, "TCP_NODELAY could not be set");
        }
    });
    let server = axum::serve(listener, app(state))
        .with_graceful_shutdown(async move {
            let _ = draining.wait_for(|stop| *stop).await;
        })
        .into_future();
    tokio::pin!(server);
    let mut grace = stopping.clone();
    let grace_over = async move {
        let _ = grace.wait_for(|stop| *stop).await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::pin!(grace_over);

    let mut failure: Option<anyhow::Error> = None;
    // A task handle must not be awaited again once the select has seen it finish.
    let (mut engine_done, mut feed_done, mut served) = (false, false, false);
    tokio::select! {
        result = &mut server => {
            served = true;
            if let Err(error) = result {
                failure = Some(anyhow::Error::new(error).context("the HTTP server failed"));
            }
        }
        () = &mut grace_over => {
            tracing::warn!("requests still in flight after the shutdown grace period; stopping anyway");
        }
        ended = &mut engine_task => {
            engine_done = true;
            failure = Some(task_failure("engine", ended.map(|r| r.map_err(anyhow::Error::new))));
        }
        ended = &mut feed_task => {
            feed_done = true;
            failure = Some(task_failure("read-model feed", ended.map(|r| r.map_err(anyhow::Error::new))));
        }
    }
    if !served {
        // A worker failed (or the grace period is running): drain like a shutdown, so that the
        // requests in flight (the one that met the failure above all) get their answers.
        stop.send_replace(true);
        tokio::select! {
            result = &mut server => {
                if let Err(error) = result {
                    failure = failure.or(Some(anyhow::Error::new(error).context("the HTTP server failed")));
                }
            }
            () = &mut grace_over => {
                tracing::warn!("requests still in flight after the shutdown grace period; stopping anyway");
            }
        }
    }
    signal.abort();
    tracing::info!("no longer accepting requests; stopping workers");

    // The router (and with it the last engine handle) is gone: the engine drains and stops.
    stop.send_replace(true);
    stop_workers.send_replace(true);
    if !engine_done {
        // Connections cut off after the grace period may still hold the engine: do not wait
        // for them for ever.
        match tokio::time::timeout(SHUTDOWN_GRACE, engine_task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(error))) => failure = failure.or(Some(error.into())),
            Ok(Err(error)) => failure = failure.or(Some(error.into())),
            Err(_) => tracing::warn!("the engine did not stop within the grace period"),
        }
    }
    if !feed_done {
        // Connections cut off after the grace period may still hold the engine: do not wait
        // for them for ever.
        match tokio::time::timeout(SHUTDOWN_GRACE, feed_task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(error))) => failure = failure.or(Some(error.into())),
            Ok(Err(error)) => failure = failure.or(Some(error.into())),
            Err(_) => tracing::warn!("the feed did not stop within the grace period"),
        }
    }
    drop(store);
    match failure {
        None => {
            tracing::info!("stopped cleanly");
            Ok(())
        }
        Some(error) => Err(error),
    }
}

/// A worker that stopped while the server was running: always a failure.
fn task_failure(
    name: &str,
    ended: Result<anyhow::Result<()>, tokio::task::JoinError>,
) -> anyhow::Error {
    let error = match ended {
        Ok(Ok(())) => anyhow::anyhow!("the {name} stopped unexpectedly"),
        Ok(Err(error)) => error.context(format!("the {name} failed")),
        Err(error) => anyhow::Error::new(error).context(format!("the {name} panicked")),
    };
    tracing::error!(error = %format!("{error:#}"), "shutting down");
    error
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
