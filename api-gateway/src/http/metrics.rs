//! `/metrics`: the service's figures in the Prometheus (OpenMetrics) text format, and the
//! middleware that counts and times every request.
//!
//! Counts and durations are recorded as they happen: requests per route, method and status, how
//! long each took, how long the engine's appends took and how many commands each carried. Figures
//! that are a state rather than a count (the log's head, how far the read models got, what waits
//! in each queue) are read at scrape time, so a scrape always shows the present. Routes are
//! labelled by their template (`/v1/conversations/{conversation}`), never by the raw path, so the
//! number of series stays bounded. This module only reports; it must never change what it
//! measures.

use super::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use event_store::EventStore;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    method: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct QueueLabels {
    queue: String,
}

/// What the engine records about its appends; shared with it at start-up.
#[derive(Clone)]
pub struct EngineMetrics {
    /// Seconds from handing a batch to the store to its acknowledgement (durable).
    pub append_seconds: Histogram,
    /// Commands decided together and appended in one batch.
    pub batch_commands: Histogram,
}

/// The registry and every figure in it.
pub struct Metrics {
    registry: Registry,
    log_head: Gauge,
    checkpoint: Gauge,
    lag: Gauge,
    requests: Family<RequestLabels, Counter>,
    request_seconds: Family<RouteLabels, Histogram>,
    waiting: Family<QueueLabels, Gauge>,
    longest_wait: Family<QueueLabels, Gauge>,
    /// Live streams open now.
    pub streams: Gauge,
    pub engine: EngineMetrics,
}

fn latency_buckets() -> Histogram {
    // 50 µs to about 13 s.
    Histogram::new(exponential_buckets(0.000_05, 2.0, 19))
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
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "switchboard_http_requests",
            "HTTP requests answered, by route template, method and status",
            requests.clone(),
        );
        let request_seconds =
            Family::<RouteLabels, Histogram>::new_with_constructor(latency_buckets as fn() -> _);
        registry.register(
            "switchboard_http_request_duration_seconds",
            "Time to answer an HTTP request (to the start of a stream, for live streams)",
            request_seconds.clone(),
        );
        let waiting = Family::<QueueLabels, Gauge>::default();
        registry.register(
            "switchboard_waiting_conversations",
            "Conversations waiting in each queue, not yet taken",
            waiting.clone(),
        );
        let longest_wait = Family::<QueueLabels, Gauge>::default();
        registry.register(
            "switchboard_longest_wait_seconds",
            "How long the longest-waiting conversation of each queue has waited",
            longest_wait.clone(),
        );
        let streams = Gauge::default();
        registry.register(
            "switchboard_live_streams",
            "Server-Sent Event streams open now",
            streams.clone(),
        );
        let engine = EngineMetrics {
            append_seconds: latency_buckets(),
            batch_commands: Histogram::new(exponential_buckets(1.0, 2.0, 11)),
        };
        registry.register(
            "switchboard_append_duration_seconds",
            "Time for the log to acknowledge (durably) one batch of the engine's events",
            engine.append_seconds.clone(),
        );
        registry.register(
            "switchboard_engine_batch_commands",
            "Commands the engine decided together and appended in one batch",
            engine.batch_commands.clone(),
        );
        Arc::new(Self {
            registry,
            log_head,
            checkpoint,
            lag,
            requests,
            request_seconds,
            waiting,
            longest_wait,
            streams,
            engine,
        })
    }
}

/// Counts and times every request, and logs it (at debug; failures at warn) with its route,
/// method, status and duration as fields.
pub async fn record(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let response = next.run(request).await;
    let seconds = started.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    if response.status().is_server_error() {
        tracing::warn!(%route, %method, status, seconds, "request failed");
    } else {
        tracing::debug!(%route, %method, status, seconds, "request");
    }
    let metrics = &state.metrics;
    metrics
        .request_seconds
        .get_or_create(&RouteLabels {
            route: route.clone(),
            method: method.clone(),
        })
        .observe(seconds);
    metrics
        .requests
        .get_or_create(&RequestLabels {
            route,
            method,
            status,
        })
        .inc();
    response
}

#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses((status = 200, description = "the answer"))
)]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let head = state.store.head().borrow().0;
    let checkpoint = state.views.checkpoint();
    let metrics = &state.metrics;
    metrics.log_head.set(to_i64(head));
    metrics.checkpoint.set(to_i64(checkpoint));
    metrics.lag.set(to_i64(head.saturating_sub(checkpoint)));
    let now = state.clock.now();
    let waits = state
        .views
        .read(None, std::time::Duration::ZERO, |models| {
            models
                .waiting
                .per_queue()
                .into_iter()
                .map(|(queue, (count, oldest))| (queue.clone(), count, now.millis_since(oldest)))
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default();
    // Every configured queue has a figure, an empty one too: a queue that emptied shows 0.
    for queue in state.config.queues.keys() {
        let (count, waited_ms) = waits
            .iter()
            .find(|(q, _, _)| q == queue)
            .map_or((0, 0), |(_, count, ms)| (*count, *ms));
        let labels = QueueLabels {
            queue: queue.to_string(),
        };
        metrics.waiting.get_or_create(&labels).set(i64::from(count));
        metrics
            .longest_wait
            .get_or_create(&labels)
            .set(to_i64(waited_ms / 1000));
    }
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
