//! `/metrics`: the service's figures in the Prometheus (OpenMetrics) text format.
//!
//! Figures that are a state rather than a count (the log's head, how far the read models got) are
//! read at scrape time, so a scrape always shows the present. This module only reports; it must
//! never change what it measures.

use super::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use event_store::EventStore;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::Arc;

/// The registry and the gauges set at each scrape.
pub struct Metrics {
    registry: Registry,
    log_head: Gauge,
    checkpoint: Gauge,
    lag: Gauge,
}

impl Metrics {
    pub fn new() -> Arc<Self> {
        let mut registry = Registry::default();
        let (log_head, checkpoint, lag) = (Gauge::default(), Gauge::default(), Gauge::default());
        registry.register(
            "switchboard_log_head",
            "Position of the newest event in the log",
            log_head.clone(),
        );
        registry.register(
            "switchboard_read_models_checkpoint",
            "Position of the last event the read models applied",
            checkpoint.clone(),
        );
        registry.register(
            "switchboard_read_models_lag_events",
            "Events in the log that the read models have not applied yet",
            lag.clone(),
        );
        Arc::new(Self {
            registry,
            log_head,
            checkpoint,
            lag,
        })
    }
}

pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let head = state.store.head().borrow().0;
    let checkpoint = state.views.checkpoint();
    let metrics = &state.metrics;
    metrics.log_head.set(to_i64(head));
    metrics.checkpoint.set(to_i64(checkpoint));
    metrics.lag.set(to_i64(head.saturating_sub(checkpoint)));
    let mut body = String::new();
    // Writing into a String cannot fail.
    let _ = encode(&mut body, &metrics.registry);
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
